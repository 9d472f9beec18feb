// The seed-compatible session route as an existing integration uses it: a
// key sent as X-API-Key creates a session for a doctor who has no Visita
// account; the answer has exactly the seed service's shape; in Chromium the
// doctor's link opens the consultation as its host and the patient's link
// takes the patient straight in, both pages branded with the company's name
// and logo (served by Visita, fetched from a server on loopback); they see
// each other, chat, and the doctor closes it and downloads the report. A
// link whose JWT was tampered with opens nothing.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hydrated, launchBrowser, runVisita, startVisita } from './support.mjs';

// A 2×2 red PNG.
const LOGO = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg==',
  'base64',
);

let dataDir;
let visita;
let browser;
let key;
let logoServer;
let logoUrl;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'visita-seed-'));
  const made = runVisita(
    ['admin', 'create-api-key', '--name', 'Seed integration', '--scopes', 'consultations:write,consultations:read'],
    { dataDir },
  );
  assert.equal(made.status, 0, made.stderr);
  key = made.stdout.trimEnd().split('\n').at(-1);
  logoServer = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'image/png' }).end(LOGO);
  });
  await new Promise((resolve) => logoServer.listen(0, '127.0.0.1', resolve));
  logoUrl = `http://127.0.0.1:${logoServer.address().port}/lilas.png`;
  // The logo's server is on loopback: allowed for this test only.
  visita = await startVisita({ dataDir, env: { VISITA_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  await new Promise((resolve) => logoServer?.close(resolve));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function createSession(body) {
  const response = await fetch(`${visita.url}/v1/abm/video/sessions/create/simple`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The logo in the page's header has loaded (it is Visita's copy). */
async function logoShown(page) {
  const logo = page.getByTestId('clinic-logo');
  await logo.waitFor();
  assert.match(await logo.getAttribute('src'), /^\/brand\/[a-z0-9]+$/);
  assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth === 2), 'the logo loaded');
}

test('a seed session: the doctor hosts by link, the patient goes straight in, both branded', async () => {
  const created = await createSession({
    doctorFullName: 'Dr Élise Moreau',
    patientFullName: 'Karim Benali',
    companyName: 'Clinique des Lilas',
    companyLogoUrl: logoUrl,
    displayMode: 'default',
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.deepEqual(
    Object.keys(created.body).sort(),
    ['doctorJwt', 'doctorLink', 'patientJwt', 'patientLink', 'room', 'sessionId', 'status'],
  );
  assert.equal(created.body.status, 'OPEN');
  const { room, doctorJwt, patientJwt } = created.body;
  assert.equal(created.body.doctorLink, `${visita.url}/session/${room}?jwt=${doctorJwt}`);
  assert.equal(created.body.patientLink, `${visita.url}/session/${room}?jwt=${patientJwt}`);

  // The doctor opens their link: no sign-in, they start it.
  const doctor = await (await browser.newContext()).newPage();
  await doctor.goto(created.body.doctorLink);
  await doctor.getByText('You run this consultation, Dr Élise Moreau.').waitFor();
  assert.match(await doctor.locator('header').innerText(), /Clinique des Lilas/);
  await logoShown(doctor);
  await hydrated(doctor);
  await doctor.getByRole('button', { name: 'Start the consultation' }).click();
  await doctor.waitForURL(new RegExp(`/room/${room}$`));
  await hydrated(doctor);
  await logoShown(doctor);
  assert.equal(await doctor.getByRole('link', { name: 'Back to the dashboard' }).count(), 0, 'no dashboard for a link');

  // The patient opens theirs and is let in at once (no waiting room).
  const patient = await (await browser.newContext()).newPage();
  await patient.goto(created.body.patientLink);
  assert.match(await patient.locator('main').innerText(), /With Dr Élise Moreau/);
  await logoShown(patient);
  await hydrated(patient);
  await patient.getByRole('button', { name: 'Join the waiting room' }).click();
  await patient.waitForURL(new RegExp(`/room/${room}$`));
  await patient.getByTestId('video-slot').waitFor({ timeout: 10_000 });
  await hydrated(patient);

  // They see each other and talk.
  await doctor.locator('[data-testid="tile"]', { hasText: 'Karim Benali' }).waitFor({ timeout: 15_000 });
  await patient.locator('[data-testid="tile"]', { hasText: 'Dr Élise Moreau' }).waitFor({ timeout: 15_000 });
  await patient.getByLabel('Write a message').fill('Bonjour docteure');
  await patient.getByRole('button', { name: 'Send', exact: true }).click();
  await doctor.getByText('Bonjour docteure').waitFor({ timeout: 10_000 });

  // The doctor closes it; the patient is told; the doctor gets the report.
  await doctor.getByRole('button', { name: 'Close the consultation' }).click();
  await patient.getByTestId('ended').waitFor({ timeout: 10_000 });
  const report = await doctor.request.get(`${visita.url}/consultations/${room}/report.pdf`);
  assert.equal(report.status(), 200);
  assert.equal(report.headers()['content-type'], 'application/pdf');
  // The patient's link session holds no such right.
  const refused = await patient.request.get(`${visita.url}/consultations/${room}/report.pdf`);
  assert.equal(refused.status(), 403);

  await doctor.context().close();
  await patient.context().close();
});

test('a link whose JWT was tampered with opens nothing', async () => {
  const created = await createSession({ doctorFullName: 'Dr A', patientFullName: 'P B' });
  assert.equal(created.status, 200);
  const page = await (await browser.newContext()).newPage();
  const [head, payload, signature] = created.body.patientJwt.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  claims.role = 'doctor';
  const forged = `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
  const response = await page.goto(`${visita.url}/session/${created.body.room}?jwt=${forged}`);
  assert.equal(response.status(), 403);
  await page.getByTestId('bad-session-link').waitFor();
  await page.context().close();
});
