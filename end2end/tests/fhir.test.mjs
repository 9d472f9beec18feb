// The FHIR R4 facade as a records system meets it: a telehealth Appointment
// POSTed with an API key becomes a consultation whose patient link opens the
// waiting room in Chromium; the consultation reads back as Appointment,
// Encounter, Patient and Practitioner, found by search too; a non-telehealth
// Appointment and a key without the scope are refused with
// OperationOutcomes. Every resource Visita emits here — the
// CapabilityStatement and the outcomes included — validates with
// fhir.resources (Python, the maintained R4 models).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createStaff, hydrated, launchBrowser, runVisita, startVisita } from './support.mjs';
import { PYTHON } from './peers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const DOCTOR = { email: 'dr.fhir@clinic.test', name: 'Dr Fatou Diallo', role: 'doctor', password: 'doctor password 12345' };

let dataDir;
let work;
let visita;
let browser;
let writer;
let reader;
const emitted = [];

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'visita-fhir-'));
  work = await mkdtemp(join(tmpdir(), 'visita-fhir-out-'));
  const make = (name, scopes) => {
    const made = runVisita(['admin', 'create-api-key', '--name', name, '--scopes', scopes], { dataDir });
    assert.equal(made.status, 0, made.stderr);
    return made.stdout.trimEnd().split('\n').at(-1);
  };
  writer = make('Practice system', 'consultations:write,consultations:read');
  reader = make('Reporting', 'consultations:read');
  visita = await startVisita({ dataDir });
  await createStaff(visita.url, DOCTOR);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  for (const dir of [dataDir, work]) if (dir) await rm(dir, { recursive: true, force: true });
});

/** A FHIR request; every JSON answer is kept to be validated at the end. */
async function fhir(method, path, { body, key = writer } = {}) {
  const response = await fetch(`${visita.url}/fhir${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      accept: 'application/fhir+json',
      ...(body ? { 'content-type': 'application/fhir+json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const resource = await response.json();
  emitted.push(resource);
  return { status: response.status, type: response.headers.get('content-type'), location: response.headers.get('location'), resource };
}

function telehealthAppointment(overrides = {}) {
  return {
    resourceType: 'Appointment',
    status: 'booked',
    identifier: [{ system: 'urn:oid:1.2.3.4.5', value: 'APT-2042' }],
    serviceType: [{ text: 'Video consultation' }],
    start: '2031-03-14T08:30:00Z',
    end: '2031-03-14T09:00:00Z',
    contained: [
      {
        resourceType: 'Patient',
        id: 'pat',
        name: [{ given: ['Amadou'], family: 'Sow' }],
        telecom: [{ system: 'email', value: 'amadou.sow@example.org' }],
        communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'fr' }] } }],
      },
      {
        resourceType: 'Practitioner',
        id: 'doc',
        name: [{ text: DOCTOR.name }],
        telecom: [{ system: 'email', value: DOCTOR.email }],
      },
    ],
    participant: [
      { actor: { reference: '#pat' }, status: 'accepted' },
      { actor: { reference: '#doc' }, status: 'accepted' },
    ],
    ...overrides,
  };
}

test('a telehealth Appointment becomes a consultation, read back as FHIR resources', async () => {
  const metadata = await fhir('GET', '/metadata', { key: null });
  assert.equal(metadata.status, 200);
  assert.equal(metadata.resource.fhirVersion, '4.0.1');

  const created = await fhir('POST', '/Appointment', { body: telehealthAppointment() });
  assert.equal(created.status, 201, JSON.stringify(created.resource));
  assert.match(created.type, /^application\/fhir\+json/);
  const id = created.resource.id;
  assert.equal(created.location, `${visita.url}/fhir/Appointment/${id}`);
  assert.equal(created.resource.status, 'booked');
  assert.equal(created.resource.start, '2031-03-14T08:30:00Z');
  const link = (suffix) => created.resource.extension.find((e) => e.url.endsWith(suffix))?.valueUrl;
  assert.match(link('/patient-link'), new RegExp(`^${visita.url}/j/[a-z2-9]{26}$`));
  assert.equal(link('/practitioner-link'), `${visita.url}/room/${id}`, 'the doctor has an account: the room');
  const patientRef = created.resource.participant.find((p) => p.actor.reference.startsWith('Patient/')).actor.reference;
  const practitionerRef = created.resource.participant.find((p) => p.actor.reference.startsWith('Practitioner/')).actor.reference;

  // The patient's link opens the waiting room (in their language).
  const patient = await (await browser.newContext()).newPage();
  await patient.goto(link('/patient-link'));
  await hydrated(patient);
  await patient.getByRole('button', { name: 'Entrer dans la salle d’attente' }).click();
  await patient.getByTestId('waiting-title').waitFor();
  await patient.context().close();

  const appointment = await fhir('GET', `/Appointment/${id}`, { key: reader });
  assert.equal(appointment.status, 200);
  assert.equal(appointment.resource.status, 'arrived', 'the patient is in the waiting room');
  assert.deepEqual(appointment.resource.identifier, [{ system: 'urn:visita:external-id', value: 'APT-2042' }]);
  const encounter = await fhir('GET', `/Encounter/${id}`, { key: reader });
  assert.equal(encounter.resource.status, 'arrived');
  assert.equal(encounter.resource.class.code, 'VR');
  const patientResource = await fhir('GET', `/${patientRef}`, { key: reader });
  assert.equal(patientResource.status, 200);
  assert.equal(patientResource.resource.name[0].text, 'Amadou Sow');
  assert.deepEqual(patientResource.resource.telecom, [{ system: 'email', value: 'amadou.sow@example.org' }]);
  const practitioner = await fhir('GET', `/${practitionerRef}`, { key: reader });
  assert.equal(practitioner.resource.name[0].text, DOCTOR.name);

  const byIdentifier = await fhir('GET', '/Appointment?identifier=urn:oid:1.2.3.4.5|APT-2042', { key: reader });
  assert.equal(byIdentifier.resource.type, 'searchset');
  assert.deepEqual(byIdentifier.resource.entry.map((e) => e.resource.id), [id]);
  const arrived = await fhir('GET', '/Appointment?status=arrived&date=ge2031-03-14&date=lt2031-03-15', { key: reader });
  assert.deepEqual(arrived.resource.entry.map((e) => e.resource.id), [id]);
  const booked = await fhir('GET', '/Appointment?status=booked', { key: reader });
  assert.equal(booked.resource.entry.length, 0);
  const encounters = await fhir('GET', `/Encounter?appointment=Appointment/${id}`, { key: reader });
  assert.deepEqual(encounters.resource.entry.map((e) => e.resource.id), [id]);

  // A clinician given by name only hosts by their own link.
  const byName = await fhir('POST', '/Appointment', {
    body: telehealthAppointment({
      identifier: undefined,
      start: undefined,
      end: undefined,
      contained: [{ resourceType: 'Patient', id: 'pat', name: [{ text: 'Lina Haddad' }] }],
      participant: [
        { actor: { reference: '#pat' }, status: 'accepted' },
        { actor: { display: 'Dr Outside Locum' }, type: [{ coding: [{ code: 'PPRF' }] }], status: 'accepted' },
      ],
    }),
  });
  assert.equal(byName.status, 201, JSON.stringify(byName.resource));
  const locumLink = byName.resource.extension.find((e) => e.url.endsWith('/practitioner-link')).valueUrl;
  assert.match(locumLink, new RegExp(`^${visita.url}/j/[a-z2-9]{26}$`));
  const locum = byName.resource.participant.find((p) => p.actor.reference.startsWith('Practitioner/')).actor.reference;
  assert.equal((await fhir('GET', `/${locum}`, { key: reader })).resource.name[0].text, 'Dr Outside Locum');
});

test('what is not a telehealth Appointment, or not allowed, gets an OperationOutcome', async () => {
  const inPerson = await fhir('POST', '/Appointment', { body: telehealthAppointment({ serviceType: [{ text: 'Dermatology clinic' }] }) });
  assert.equal(inPerson.status, 422);
  assert.equal(inPerson.resource.resourceType, 'OperationOutcome');
  assert.deepEqual(inPerson.resource.issue[0].expression, ['Appointment.serviceType']);
  const past = await fhir('POST', '/Appointment', { body: telehealthAppointment({ start: '2001-01-01T08:00:00Z' }) });
  assert.equal(past.status, 422, JSON.stringify(past.resource));
  assert.deepEqual(past.resource.issue[0].expression, ['Appointment.start']);
  const noScope = await fhir('POST', '/Appointment', { body: telehealthAppointment(), key: reader });
  assert.equal(noScope.status, 403);
  assert.equal(noScope.resource.issue[0].code, 'forbidden');
  const noKey = await fhir('GET', '/Appointment', { key: null });
  assert.equal(noKey.status, 401);
  const unknownParam = await fhir('GET', '/Appointment?colour=blue', { key: reader });
  assert.equal(unknownParam.status, 400);
  const missing = await fhir('GET', '/Appointment/nosuchthing', { key: reader });
  assert.equal(missing.status, 404);
  assert.equal(missing.resource.issue[0].code, 'not-found');
});

test('every resource Visita emitted validates with fhir.resources', async () => {
  assert.ok(emitted.length >= 15, `${emitted.length} resources`);
  const files = [];
  for (const [i, resource] of emitted.entries()) {
    const file = join(work, `${i}-${resource.resourceType}.json`);
    await writeFile(file, JSON.stringify(resource));
    files.push(file);
  }
  const run = await promisify(execFile)(PYTHON, [join(HERE, '../fhir/validate.py'), ...files]).catch((error) => error);
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  assert.ok(!run.code, output);
  assert.equal(output.match(/^valid /gm)?.length, files.length, output);
  for (const kind of ['CapabilityStatement', 'Appointment', 'Encounter', 'Patient', 'Practitioner', 'Bundle', 'OperationOutcome']) {
    assert.match(output, new RegExp(`^valid ${kind} `, 'm'), `${kind} validated`);
  }
});
