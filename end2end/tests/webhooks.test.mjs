// Webhooks as an integrator meets them: a key made with the command line
// subscribes a receiver on loopback (allowed for this test by
// VISITA_WEBHOOK_ALLOW_NETWORKS; an internal address is refused), and a
// consultation's life — booked through the API, the patient in the waiting
// room in Chromium, let in and closed by the doctor — arrives as signed
// events whose signatures this test checks, the first one after a 500 and a
// retry. The admin console shows the tries and sends one again; a delivery
// still failing when the server stops is delivered after its restart.

import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN, createStaff, hydrated, launchBrowser, runVisita, signIn, startVisita } from './support.mjs';
import { eventually } from './peers.mjs';

const DOCTOR = { email: 'dr.hooks@clinic.test', name: 'Dr Hugo Hook', role: 'doctor', password: 'doctor password 12345' };
const ENV = { VISITA_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1', VISITA_WEBHOOK_RETRY_SECONDS: '1' };
const ALL_EVENTS = [
  'consultation.created',
  'patient.waiting',
  'consultation.started',
  'consultation.closed',
  'consultation.cancelled',
  'notification.failed',
];

let dataDir;
let visita;
let browser;
let key;
let secret;
let receiver;

/** A webhook receiver: records every request; answers from `answers` first, then `otherwise`. */
async function startReceiver() {
  const state = { received: [], answers: [], otherwise: 200 };
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => {
      const status = state.answers.length > 0 ? state.answers.shift() : state.otherwise;
      state.received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      response.writeHead(status).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${server.address().port}/visita-hook`;
  state.close = () => new Promise((resolve) => server.close(resolve));
  return state;
}

/** Checks `Visita-Signature: t=…,v1=…` as the API docs tell receivers to. */
function signatureValid(headers, body, withSecret = secret) {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(headers['visita-signature'] ?? '');
  if (!match) return false;
  const age = Date.now() / 1000 - Number(match[1]);
  const expected = createHmac('sha256', withSecret).update(`${match[1]}.${body}`).digest();
  return age >= -5 && age < 300 && timingSafeEqual(expected, Buffer.from(match[2], 'hex'));
}

function eventsOf(type, consultation) {
  return receiver.received.filter((r) => {
    const body = JSON.parse(r.body);
    return body.type === type && (!consultation || body.data.consultation.id === consultation);
  });
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'visita-hooks-'));
  const made = runVisita(
    ['admin', 'create-api-key', '--name', 'Records system', '--scopes', 'consultations:write,consultations:read,webhooks:manage'],
    { dataDir },
  );
  assert.equal(made.status, 0, made.stderr);
  key = made.stdout.trimEnd().split('\n').at(-1);
  visita = await startVisita({ dataDir, env: ENV });
  await createStaff(visita.url, DOCTOR);
  browser = await launchBrowser();
  receiver = await startReceiver();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  await receiver?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function api(method, path, body) {
  const response = await fetch(`${visita.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), body: text ? JSON.parse(text) : null };
}

async function book(patientName) {
  const created = await api('POST', '/api/v1/consultations', {
    patientName,
    timezone: 'Europe/Paris',
    clinicianEmail: DOCTOR.email,
    sendInvite: false,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

test('a consultation’s life arrives as signed events, the first after a 500 and a retry', async () => {
  const refused = await api('POST', '/api/v1/webhooks', { url: 'http://10.0.0.7/hook', events: ['consultation.created'] });
  assert.equal(refused.status, 422);
  assert.equal(refused.type, 'application/problem+json');
  assert.equal(refused.body.field, 'url');
  assert.match(refused.body.detail, /internal address/);

  const subscribed = await api('POST', '/api/v1/webhooks', { url: receiver.url, events: ALL_EVENTS, description: 'EMR bridge' });
  assert.equal(subscribed.status, 201, JSON.stringify(subscribed.body));
  secret = subscribed.body.secret;
  assert.match(secret, /^whsec_[0-9a-f]{64}$/);

  receiver.answers.push(500);
  const booked = await book('Inès Moreau');
  const created = await eventually(() => eventsOf('consultation.created', booked.id).length >= 2 && eventsOf('consultation.created', booked.id), 15_000);
  assert.deepEqual(created.map((r) => r.status), [500, 200], 'refused once, then delivered');
  assert.equal(created[0].body, created[1].body, 'the retry carries the same body');
  assert.equal(created[0].headers['visita-event-id'], created[1].headers['visita-event-id']);
  const event = JSON.parse(created[1].body);
  assert.equal(event.data.consultation.patientName, 'Inès Moreau');
  assert.equal(event.data.consultation.patientLink, null, 'no link travels in a webhook');

  // The patient comes into the waiting room.
  const patient = await (await browser.newContext()).newPage();
  await patient.goto(booked.patientLink);
  await hydrated(patient);
  await patient.getByRole('button', { name: 'Join the waiting room' }).click();
  await patient.getByTestId('waiting-title').waitFor();
  const [waiting] = await eventually(() => eventsOf('patient.waiting', booked.id).length > 0 && eventsOf('patient.waiting', booked.id));
  const waitingBody = JSON.parse(waiting.body);
  assert.equal(waitingBody.data.participant.role, 'patient');
  assert.equal(waitingBody.data.participant.name, 'Inès Moreau');
  assert.equal(waitingBody.data.consultation.status, 'waiting');

  // The doctor lets them in, then closes.
  const doctor = await (await browser.newContext()).newPage();
  await signIn(doctor, visita.url, DOCTOR);
  await doctor.waitForURL(`${visita.url}/`);
  await hydrated(doctor);
  const line = doctor.locator('li.day-line[data-patient="Inès Moreau"]');
  await line.getByTestId('admit').click({ timeout: 10_000 });
  await doctor.waitForURL(/\/room\//);
  await eventually(() => eventsOf('consultation.started', booked.id).length > 0);
  await hydrated(doctor);
  await doctor.getByRole('button', { name: 'Close the consultation' }).click();
  await patient.getByTestId('ended').waitFor({ timeout: 10_000 });
  const [closed] = await eventually(() => eventsOf('consultation.closed', booked.id).length > 0 && eventsOf('consultation.closed', booked.id));
  assert.equal(JSON.parse(closed.body).data.consultation.status, 'closed');

  // Every request is signed with the subscription's secret, says its event in
  // a header, and no other secret verifies it.
  for (const request of receiver.received) {
    assert.ok(signatureValid(request.headers, request.body), `signature of ${request.body}`);
    assert.ok(!signatureValid(request.headers, request.body, 'whsec_another'));
    assert.equal(request.headers['visita-event'], JSON.parse(request.body).type);
    assert.equal(request.headers['content-type'], 'application/json');
  }
  // A body changed on the way no longer verifies.
  assert.ok(!signatureValid(closed.headers, closed.body.replace('closed', 'cancelled')));
  await patient.context().close();
  await doctor.context().close();
});

test('the admin console shows each try and sends a delivery again', async () => {
  const admin = await (await browser.newContext()).newPage();
  await signIn(admin, visita.url, ADMIN);
  await admin.waitForURL(`${visita.url}/`);
  await admin.getByRole('link', { name: 'Webhooks' }).click();
  await admin.waitForURL(`${visita.url}/admin/webhooks`);
  await hydrated(admin);
  const subscription = admin.locator('tr[data-webhook]');
  assert.match(await subscription.innerText(), /Records system[\s\S]*EMR bridge[\s\S]*consultation\.created/);
  const delivery = admin.locator('tr[data-kind="consultation.created"]').first();
  assert.equal(await delivery.getByTestId('delivery-status').innerText(), 'delivered');
  const tries = await delivery.getByTestId('delivery-tries').locator('li').allInnerTexts();
  assert.equal(tries.length, 2);
  assert.match(tries[0], /: 500 \(\d+ ms\)$/);
  assert.match(tries[1], /: 200 \(\d+ ms\)$/);

  const before = receiver.received.length;
  const eventId = receiver.received.find((r) => r.headers['visita-event'] === 'consultation.created').headers['visita-event-id'];
  await delivery.getByRole('button', { name: 'Send again' }).click();
  await admin.getByText('Queued: it is sent again within a few seconds.').waitFor();
  const again = await eventually(() => receiver.received.length > before && receiver.received.at(-1));
  assert.equal(again.headers['visita-event-id'], eventId, 'the same event');
  assert.ok(signatureValid(again.headers, again.body));
  await admin.context().close();
});

test('a delivery still failing when the server stops is delivered after the restart', async () => {
  receiver.otherwise = 503;
  const booked = await book('Paul Girard');
  await eventually(() => eventsOf('consultation.created', booked.id).length > 0, 15_000);
  const stopped = await visita.stop('SIGTERM', { keepData: true });
  assert.equal(stopped.code, 0, visita.output());
  receiver.otherwise = 200;
  visita = await startVisita({ dataDir, env: ENV });
  const delivered = await eventually(
    () => eventsOf('consultation.created', booked.id).find((r) => r.status === 200),
    20_000,
  );
  assert.ok(signatureValid(delivered.headers, delivered.body));
  const log = await api('GET', `/api/v1/webhooks/${(await api('GET', '/api/v1/webhooks')).body[0].id}/deliveries?limit=100`);
  const mine = log.body.find((d) => d.type === 'consultation.created' && d.status === 'delivered' && d.tries.some((t) => t.status === 503) && d.tries.at(-1).status === 200);
  assert.ok(mine, JSON.stringify(log.body));
});
