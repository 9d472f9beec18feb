// The FHIR client against a practice system's FHIR server (end2end/fhir/
// server.py: fhir.resources validates everything written to it), as OpenEMR
// connects: Visita signs in with client credentials found through the SMART
// configuration, polls the Appointments by _lastUpdated, books the
// telehealth one (not the other), invites its patient, writes the join
// links back at once, then `arrived` when the patient enters the waiting
// room in Chromium and `fulfilled` when the doctor closes the consultation.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createStaff, freePort, hydrated, launchBrowser, signIn, startVisita } from './support.mjs';
import { PYTHON, eventually } from './peers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const DOCTOR = { email: 'dr.emr@clinic.test', name: 'Dr Ines Costa', role: 'doctor', password: 'doctor password 12345' };
const CLIENT = { id: 'visita-backend', secret: 'a client secret of the practice system' };

let fhirServer;
let fhirUrl;
let visita;
let browser;

async function startFhirServer() {
  const port = await freePort();
  const child = spawn(PYTHON, [join(HERE, '../fhir/server.py'), String(port), CLIENT.id, CLIENT.secret], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  await eventually(() => output.includes('FHIR server on'), 20_000, `the FHIR server:\n${output}`);
  return { child, url: `http://127.0.0.1:${port}`, output: () => output };
}

async function seed(resource) {
  const response = await fetch(`${fhirUrl}/_test/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify(resource),
  });
  assert.equal(response.status, 200, await response.text());
}

/** What Visita wrote to the practice system's Appointment `id`, in order. */
async function writesTo(id) {
  const writes = await (await fetch(`${fhirUrl}/_test/writes`)).json();
  return writes.filter((r) => r.resourceType === 'Appointment' && r.id === id);
}

function appointment(id, serviceText, start) {
  return {
    resourceType: 'Appointment',
    id,
    status: 'booked',
    serviceType: [{ text: serviceText }],
    start,
    end: start.replace(':00:00Z', ':30:00Z'),
    participant: [
      { actor: { reference: 'Patient/pat-1', display: 'Maria Lopes' }, status: 'accepted' },
      { actor: { reference: 'Practitioner/prac-7', display: DOCTOR.name }, status: 'accepted' },
    ],
  };
}

before(async () => {
  fhirServer = await startFhirServer();
  fhirUrl = fhirServer.url;
  await seed({
    resourceType: 'Patient',
    id: 'pat-1',
    name: [{ given: ['Maria'], family: 'Lopes' }],
    telecom: [{ system: 'email', value: 'maria.lopes@example.org' }],
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'fr' }] } }],
  });
  await seed({
    resourceType: 'Practitioner',
    id: 'prac-7',
    name: [{ text: DOCTOR.name }],
    telecom: [{ system: 'email', value: DOCTOR.email }],
  });
  visita = await startVisita({
    env: {
      VISITA_FHIR_CLIENT_BASE_URL: fhirUrl,
      VISITA_FHIR_CLIENT_ID: CLIENT.id,
      VISITA_FHIR_CLIENT_SECRET: CLIENT.secret,
      VISITA_FHIR_CLIENT_POLL_SECONDS: '1',
    },
  });
  await createStaff(visita.url, DOCTOR);
  // The practice books (once the doctor has an account): tomorrow at 09:00
  // UTC by video, and an in-person visit at 10:00.
  const day = new Date(Date.now() + 24 * 3600 * 1000).toISOString().slice(0, 10);
  await seed(appointment('apt-video', 'Telehealth follow-up', `${day}T09:00:00Z`));
  await seed(appointment('apt-office', 'Office visit', `${day}T10:00:00Z`));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  fhirServer?.child.kill();
});

test('the telehealth Appointment is booked, and its statuses are written back', async () => {
  // The join links come back at once (the server validated the update).
  const [first] = await eventually(async () => {
    const writes = await writesTo('apt-video');
    return writes.length > 0 && writes;
  }, 20_000, 'the first write-back');
  assert.equal(first.status, 'booked');
  const link = (resource, suffix) => resource.extension?.find((e) => e.url.endsWith(suffix))?.valueUrl;
  const patientLink = link(first, '/patient-link');
  assert.match(patientLink, new RegExp(`^${visita.url}/j/[a-z2-9]{26}$`));
  assert.match(link(first, '/practitioner-link'), new RegExp(`^${visita.url}/room/`), 'the doctor has an account');
  assert.deepEqual(await writesTo('apt-office'), [], 'an office visit is none of Visita’s business');

  // The patient (in French, from their Patient resource) enters the waiting room.
  const patient = await (await browser.newContext()).newPage();
  await patient.goto(patientLink);
  await hydrated(patient);
  await patient.getByRole('button', { name: 'Entrer dans la salle d’attente' }).click();
  await patient.getByTestId('waiting-title').waitFor();
  await eventually(async () => (await writesTo('apt-video')).some((w) => w.status === 'arrived'), 20_000, 'arrived');

  // The doctor (matched by email) lets them in and closes.
  const doctor = await (await browser.newContext()).newPage();
  await signIn(doctor, visita.url, DOCTOR);
  await doctor.waitForURL(`${visita.url}/`);
  await hydrated(doctor);
  const line = doctor.locator('li.day-line[data-patient="Maria Lopes"]');
  await line.getByTestId('admit').click({ timeout: 10_000 });
  await doctor.waitForURL(/\/room\//);
  await hydrated(doctor);
  await doctor.getByRole('button', { name: 'Close the consultation' }).click();
  await patient.getByTestId('ended').waitFor({ timeout: 10_000 });
  const writes = await eventually(async () => {
    const all = await writesTo('apt-video');
    return all.at(-1)?.status === 'fulfilled' && all;
  }, 20_000, 'fulfilled');
  assert.deepEqual([...new Set(writes.map((w) => w.status))], ['booked', 'arrived', 'fulfilled']);
  // Each write built on the version before it (If-Match), so versions rise.
  const versions = writes.map((w) => Number(w.meta.versionId));
  assert.deepEqual(versions, [...versions].sort((a, b) => a - b));
  // Once over, the links are gone from the Appointment.
  assert.equal(link(writes.at(-1), '/patient-link'), undefined);

  // Booked once, however many looks came since (one a second).
  await doctor.goto(`${visita.url}/`);
  await doctor.locator('li.day-line').first().waitFor();
  assert.equal(await doctor.locator('li.day-line[data-patient="Maria Lopes"]').count(), 1);
  await patient.context().close();
  await doctor.context().close();
});
