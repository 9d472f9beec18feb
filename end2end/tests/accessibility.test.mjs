// The patient's pages as a patient on a small phone, with a keyboard, or
// with a screen reader meets them: no horizontal scrolling at 360 px, the
// join button reachable and usable from the keyboard alone, and no serious
// accessibility fault found by axe-core (labels, contrast, roles, landmarks).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createStaff, hydrated, launchBrowser, seriousFaults, signIn, startVisita } from './support.mjs';

const DOCTOR = { email: 'dr.a11y@clinic.test', name: 'Dr Ana Lima', role: 'doctor', password: 'doctor password 12345' };

let visita;
let browser;

before(async () => {
  visita = await startVisita();
  browser = await launchBrowser();
  await createStaff(visita.url, DOCTOR);
});

after(async () => {
  await browser?.close();
  await visita?.stop();
});

async function fitsTheScreen(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

test('a patient on a 360 px phone joins with the keyboard alone', async () => {
  const doctor = await browser.newPage();
  await signIn(doctor, visita.url, DOCTOR);
  await doctor.waitForURL(`${visita.url}/`);
  await hydrated(doctor);
  await doctor.getByLabel("Patient's name").fill('Maria Keyboard');
  await doctor.getByRole('button', { name: "Create and get the patient's link" }).click();
  const link = await doctor.getByTestId('patient-link').inputValue();

  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const patient = await context.newPage();
  await patient.goto(link);
  await hydrated(patient);
  assert.ok(await fitsTheScreen(patient), 'the invite page fits 360 px');
  assert.deepEqual(await seriousFaults(patient), [], 'the invite page has no serious accessibility fault');

  // Tab to the join button (past the language links), press Enter.
  let focused = '';
  for (let i = 0; i < 10 && focused !== 'join'; i++) {
    await patient.keyboard.press('Tab');
    focused = await patient.evaluate(() => document.activeElement?.id ?? '');
  }
  assert.equal(focused, 'join', 'the join button is reachable by keyboard');
  const box = await patient.locator('#join').boundingBox();
  assert.ok(box.height >= 44 && box.width >= 44, `the join button is a large target (${box.width}×${box.height})`);
  await patient.keyboard.press('Enter');
  await patient.getByTestId('waiting-title').waitFor();
  await hydrated(patient);
  await patient.locator('[data-testid="device-check"] [data-state]').waitFor();

  assert.ok(await fitsTheScreen(patient), 'the waiting room fits 360 px');
  // Screen readers hear changes: the status and the device check are live regions.
  assert.equal(await patient.getByTestId('waiting-status').getAttribute('aria-live'), 'polite');
  assert.equal(await patient.getByTestId('device-check').getAttribute('aria-live'), 'polite');
  assert.deepEqual(await seriousFaults(patient), [], 'the waiting room has no serious accessibility fault');

  // The dead-link page too.
  await patient.goto(`${visita.url}/j/aaaaaaaaaaaaaaaaaaaaaaaaaa`);
  assert.ok(await fitsTheScreen(patient));
  assert.deepEqual(await seriousFaults(patient), []);
  await context.close();
  await doctor.close();
});
