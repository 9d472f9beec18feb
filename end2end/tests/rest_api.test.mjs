// The REST API as an integrator meets it: a key made with the command line
// (printed once, alone on the last line) books a consultation for a
// clinician; the patient link it returns opens the waiting room in
// Chromium; the API then reports the patient waiting. Revoked from the
// command line, the key gets a 401 problem document.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN, createStaff, hydrated, launchBrowser, runVisita, signIn, startVisita } from './support.mjs';
import { eventually } from './peers.mjs';

const DOCTOR = { email: 'dr.api@clinic.test', name: 'Dr Ada Api', role: 'doctor', password: 'doctor password 12345' };

let dataDir;
let visita;
let browser;
let key;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'visita-api-'));
  const made = runVisita(
    ['admin', 'create-api-key', '--name', 'Hospital agenda', '--scopes', 'consultations:write,consultations:read'],
    { dataDir },
  );
  assert.equal(made.status, 0, made.stderr);
  const lines = made.stdout.trimEnd().split('\n');
  key = lines.at(-1);
  assert.match(key, /^vk_[a-z0-9]{20}_[0-9a-f]{64}$/, 'the key alone on the last line');
  assert.ok(lines.slice(0, -1).every((l) => !l.includes(key.slice(30))), 'and nowhere else');
  visita = await startVisita({ dataDir });
  await createStaff(visita.url, DOCTOR);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function api(method, path, body, withKey = key) {
  const response = await fetch(`${visita.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${withKey}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.json() };
}

test('a key from the command line books a consultation whose patient link opens the waiting room', async () => {
  const created = await api('POST', '/api/v1/consultations', {
    patientName: 'Noor Haddad',
    language: 'fr',
    timezone: 'Europe/Paris',
    clinicianEmail: DOCTOR.email,
    externalId: 'AGENDA-7731',
    sendInvite: false,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.status, 'scheduled');
  assert.equal(created.body.clinicianName, DOCTOR.name);
  assert.match(created.body.patientLink, new RegExp(`^${visita.url}/j/[a-z2-9]{26}$`));
  assert.equal(created.body.doctorLink, `${visita.url}/room/${created.body.id}`);

  const patient = await (await browser.newContext({ locale: 'fr-FR' })).newPage();
  assert.equal((await patient.goto(created.body.patientLink)).status(), 200);
  await hydrated(patient);
  await patient.getByRole('button', { name: 'Entrer dans la salle d’attente' }).click();
  await patient.waitForURL(/\/room\//);
  await patient.getByTestId('waiting-title').waitFor();

  const read = await eventually(async () => {
    const now = await api('GET', `/api/v1/consultations/${created.body.id}`);
    return now.body.status === 'waiting' && now;
  }, 10_000, 'the API to report the patient waiting');
  assert.equal(read.body.externalId, 'AGENDA-7731');
  const found = await api('GET', '/api/v1/consultations?externalId=AGENDA-7731');
  assert.deepEqual(found.body.items.map((c) => c.id), [created.body.id]);
  await patient.context().close();
});

test('an administrator makes a key in the console, sees it used, and revokes it', async () => {
  const admin = await (await browser.newContext()).newPage();
  await signIn(admin, visita.url, ADMIN);
  await admin.waitForURL(`${visita.url}/`);
  await admin.goto(`${visita.url}/admin/api-keys`);
  await hydrated(admin);
  await admin.getByLabel('What uses it').fill('Records system');
  await admin.getByLabel('book, move and cancel consultations').check();
  await admin.getByRole('button', { name: 'Make the key' }).click();
  const shown = admin.getByTestId('new-key');
  await shown.waitFor();
  const consoleKey = (await shown.innerText()).trim();
  assert.match(consoleKey, /^vk_[a-z0-9]{20}_[0-9a-f]{64}$/);
  const id = consoleKey.split('_')[1];
  const row = admin.locator(`tr[data-key="${id}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /Records system[\s\S]*consultations:read, consultations:write[\s\S]*by admin@clinic\.test[\s\S]*last used never/);

  const booked = await api('POST', '/api/v1/consultations', {
    patientName: 'Léa Morel', timezone: 'Europe/Paris', clinicianEmail: DOCTOR.email, sendInvite: false,
  }, consoleKey);
  assert.equal(booked.status, 201, JSON.stringify(booked.body));
  await admin.reload();
  await hydrated(admin);
  assert.doesNotMatch(await row.getByTestId('key-state').innerText(), /never/, 'its use is recorded');

  await row.getByRole('button', { name: 'Revoke' }).click();
  await admin.getByText('Revoked: the key no longer opens anything.').waitFor();
  await eventually(async () => /^revoked /.test(await row.getByTestId('key-state').innerText()), 5_000, 'the revoked state');
  const refused = await api('GET', '/api/v1/consultations', undefined, consoleKey);
  assert.equal(refused.status, 401);
  assert.equal(refused.body.detail, 'This API key has been revoked.');
  await admin.context().close();
});

test('a key revoked from the command line is refused with a problem document', async () => {
  await visita.stop('SIGTERM', { keepData: true });
  const id = key.split('_')[1];
  const listed = runVisita(['admin', 'list-api-keys'], { dataDir });
  assert.equal(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^${id}\\tHospital agenda\\tconsultations:write,consultations:read\\tlast used `, 'm'));
  assert.match(listed.stdout, /\tRecords system\t.*\trevoked /, 'the console\'s key, revoked there');
  assert.ok(!listed.stdout.includes(key.split('_')[2]), 'the list never shows a key');
  const revoked = runVisita(['admin', 'revoke-api-key', '--id', id], { dataDir });
  assert.equal(revoked.status, 0, revoked.stderr);
  visita = await startVisita({ dataDir });
  const refused = await api('GET', '/api/v1/consultations');
  assert.equal(refused.status, 401);
  assert.equal(refused.type, 'application/problem+json');
  assert.equal(refused.body.detail, 'This API key has been revoked.');
  const none = await api('GET', '/api/v1/consultations', undefined, '');
  assert.equal(none.status, 401);
});
