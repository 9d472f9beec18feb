// The consultation loop in three browsers: a doctor books, a patient joins
// by link and waits, the doctor sees them arrive live and lets them in, they
// chat both ways, the doctor closes; the patient's link then shows the
// ended page. A restart in the middle loses nothing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createStaff, hydrated, launchBrowser, signIn, startVisita } from './support.mjs';

const DOCTOR = { email: 'dr.house@clinic.test', name: 'Gregory House', role: 'doctor', password: 'doctor password 12345' };
const PATIENT = 'Zoë Ñúñez-Петрова';

let visita;
let browser;

before(async () => {
  visita = await startVisita({ env: { VISITA_CLINIC_NAME: 'Clinique des Lilas', VISITA_TIMEZONE: 'Europe/Paris' } });
  browser = await launchBrowser();
  await createStaff(visita.url, DOCTOR);
});

after(async () => {
  await browser?.close();
  await visita?.stop();
});

async function bookAsDoctor(page, name, language = 'fr') {
  await page.goto(`${visita.url}/`);
  await hydrated(page);
  await page.getByLabel("Patient's name").fill(name);
  await page.getByLabel("Patient's language").selectOption(language);
  await page.getByLabel("Patient's time zone").fill('Europe/Zurich');
  await page.getByRole('button', { name: "Create and get the patient's link" }).click();
  const link = page.getByTestId('patient-link');
  await link.waitFor();
  return link.inputValue();
}

test('book, wait, admit live, chat both ways, close', async () => {
  const doctorContext = await browser.newContext();
  const patientContext = await browser.newContext({ locale: 'fr-FR' });
  const doctor = await doctorContext.newPage();
  const patient = await patientContext.newPage();

  await signIn(doctor, visita.url, DOCTOR);
  await doctor.waitForURL(`${visita.url}/`);
  const link = await bookAsDoctor(doctor, PATIENT);
  assert.match(link, /\/j\/[a-z2-9]{26}$/, link);

  // The dashboard lists the booking; the patient is not there yet.
  const line = doctor.locator(`li.day-line[data-patient="${PATIENT}"]`);
  await line.waitFor();
  assert.match(await line.innerText(), /Link not opened yet/);

  // The patient opens the link: clinic, clinician, in French; one button.
  const invite = await patient.goto(link);
  assert.equal(invite.status(), 200);
  await patient.getByRole('heading', { name: 'Votre consultation vidéo' }).waitFor();
  assert.match(await patient.locator('main').innerText(), /Avec Gregory House/);
  assert.match(await patient.locator('header').innerText(), /Clinique des Lilas/);
  assert.equal(await patient.locator('html').getAttribute('lang'), 'fr');
  await hydrated(patient);
  await patient.getByRole('button', { name: 'Entrer dans la salle d’attente' }).click();

  // Second click done: the patient is in the waiting room, devices checked.
  await patient.waitForURL(/\/room\//);
  await patient.getByTestId('waiting-title').waitFor();
  assert.equal(await patient.getByTestId('waiting-title').innerText(), 'Vous êtes dans la salle d’attente');
  await patient.locator('[data-testid="device-check"] [data-state="ready"]').waitFor();
  assert.match(await patient.getByTestId('position').innerText(), /Vous êtes le prochain/);

  // The doctor sees them arrive without reloading, and lets them in.
  const waiting = line.getByTestId('waiting');
  await waiting.waitFor({ timeout: 10_000 });
  assert.match(await waiting.innerText(), new RegExp(`${PATIENT} is waiting`));
  assert.match(await line.innerText(), /Link opened/);
  await line.getByTestId('admit').click();
  await doctor.waitForURL(/\/room\//);
  await hydrated(doctor);

  // The patient is let in, live.
  await patient.getByTestId('video-slot').waitFor({ timeout: 10_000 });
  await patient.getByRole('heading', { name: 'Votre consultation' }).waitFor();

  // Chat both ways.
  await patient.getByLabel('Écrire un message').fill('Bonjour docteur, j’ai mal à la tête');
  await patient.getByRole('button', { name: 'Envoyer' }).click();
  await doctor.getByText('Bonjour docteur, j’ai mal à la tête').waitFor({ timeout: 10_000 });
  await doctor.getByLabel('Write a message').fill('Depuis quand ?');
  await doctor.getByRole('button', { name: 'Send' }).click();
  await patient.getByText('Depuis quand ?').waitFor({ timeout: 10_000 });
  const patientLines = await patient.getByTestId('chat-line').allInnerTexts();
  assert.equal(patientLines.length, 2);
  assert.match(patientLines[0], /^Vous/);
  assert.match(patientLines[1], /Gregory House \(Soignant\)/);

  // A restart loses nothing: the history comes back from the database.
  const dataDir = visita.dataDir;
  const result = await visita.stop('SIGTERM', { keepData: true });
  assert.equal(result.code, 0, visita.output());
  const restarted = await startVisita({ dataDir, env: { VISITA_CLINIC_NAME: 'Clinique des Lilas' } });
  // Same data, new port: the old pages point at the old address.
  const room = new URL(patient.url()).pathname;
  visita = restarted;
  // Cookies are per host:port-less origin on 127.0.0.1, so sessions survive.
  await patient.goto(`${visita.url}${room}`);
  await patient.getByText('Depuis quand ?').waitFor();
  assert.equal((await patient.getByTestId('chat-line').allInnerTexts()).length, 2);
  await doctor.goto(`${visita.url}${room}`);
  await hydrated(doctor);
  await doctor.getByText('Bonjour docteur, j’ai mal à la tête').waitFor();
  await hydrated(patient);

  // The doctor closes; the patient is told at once, and the link is dead.
  await doctor.getByRole('button', { name: 'Close the consultation' }).click();
  await patient.getByTestId('ended').waitFor({ timeout: 10_000 });
  const dead = await patient.goto(link.replace(/^http:\/\/[^/]+/, visita.url));
  assert.equal(dead.status(), 410);
  assert.equal(await patient.getByTestId('dead-link').innerText(), 'Cette consultation est terminée');

  await doctorContext.close();
  await patientContext.close();
});

test('forged and unknown links show a plain page and leak nothing', async () => {
  const context = await browser.newContext({ locale: 'en-GB' });
  const page = await context.newPage();
  for (const path of ['/j/aaaaaaaaaaaaaaaaaaaaaaaaaa', '/j/not-a-token', '/j/%3Cscript%3E']) {
    const response = await page.goto(`${visita.url}${path}`);
    assert.equal(response.status(), 404, path);
    assert.equal(await page.getByTestId('dead-link').innerText(), 'This link does not work');
  }
  await context.close();
});
