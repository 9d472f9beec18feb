// The call: doctor, patient and translator in one consultation, each with a
// fake camera and microphone, all media through Visita's SFU. Each page's
// own RTCPeerConnection stats must show audio and video arriving from the
// two others; the server's counters must show it forwarded those packets.
// Then muting, camera off, and a join from the waiting room refused.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN, createStaff, hydrated, launchBrowser, signIn, startVisita } from './support.mjs';

const DOCTOR = { email: 'dr.grey@clinic.test', name: 'Meredith Grey', role: 'doctor', password: 'doctor password 12345' };
const TRANSLATOR = { email: 'olena@translators.test', name: 'Olena Koval', role: 'translator', password: 'translator password 123' };

let visita;
let browser;

// Keeps every RTCPeerConnection the page makes, for getStats().
function capturePeerConnections() {
  const Native = window.RTCPeerConnection;
  window.__peerConnections = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__peerConnections.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
}

before(async () => {
  visita = await startVisita();
  browser = await launchBrowser();
  await createStaff(visita.url, DOCTOR);
  await createStaff(visita.url, TRANSLATOR);
});

after(async () => {
  await browser?.close();
  await visita?.stop();
});

async function newPage(options = {}) {
  const context = await browser.newContext(options);
  await context.addInitScript(capturePeerConnections);
  return { context, page: await context.newPage() };
}

/** Inbound RTP of the page's newest peer connection, by remote stream. */
async function inbound(page) {
  return page.evaluate(async () => {
    const pc = window.__peerConnections.at(-1);
    if (!pc) return [];
    const streamOf = new Map();
    for (const receiver of pc.getReceivers()) {
      const transceiver = pc.getTransceivers().find((t) => t.receiver === receiver);
      streamOf.set(receiver.track.id, transceiver?.mid);
    }
    const report = await pc.getStats();
    const out = [];
    report.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.push({ kind: s.kind, bytes: s.bytesReceived ?? 0, frames: s.framesDecoded ?? 0, track: s.trackIdentifier });
      }
    });
    // Which remote stream (participant) each track belongs to.
    const tracks = new Map();
    for (const video of document.querySelectorAll('[data-testid="tile"] video')) {
      const stream = video.srcObject;
      if (stream) for (const track of stream.getTracks()) tracks.set(track.id, video.closest('[data-stream]').dataset.stream);
    }
    return out.map((s) => ({ ...s, stream: tracks.get(s.track) ?? null }));
  });
}

/** Waits until audio and video from `streamCount` others arrive and keep arriving over `seconds`. */
async function assertReceiving(page, who, streamCount, seconds = 3) {
  const byKey = (list) => new Map(list.filter((s) => s.stream).map((s) => [`${s.stream}/${s.kind}`, s]));
  // Wait for the tracks to arrive and be attached to tiles.
  const deadline = Date.now() + 20_000;
  let first;
  for (;;) {
    first = byKey(await inbound(page));
    const video = [...first.values()].filter((s) => s.kind === 'video' && s.bytes > 0).length;
    const audio = [...first.values()].filter((s) => s.kind === 'audio' && s.bytes > 0).length;
    if (video >= streamCount && audio >= streamCount) break;
    if (Date.now() > deadline) {
      assert.fail(`${who}: media did not arrive: ${JSON.stringify([...first.values()])}`);
    }
    await page.waitForTimeout(250);
  }
  await page.waitForTimeout(seconds * 1000);
  const later = byKey(await inbound(page));
  for (const [key, before] of first) {
    const now = later.get(key);
    assert.ok(now && now.bytes > before.bytes, `${who}: bytes of ${key} did not grow (${before.bytes} → ${now?.bytes})`);
    if (before.kind === 'video') {
      assert.ok(now.frames > before.frames, `${who}: no frames of ${key} decoded (${before.frames} → ${now.frames})`);
    }
  }
  return later;
}

async function metric(name) {
  const text = await (await fetch(`${visita.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `metric ${name} missing in:\n${text}`);
  return Number(line.split(' ')[1]);
}

async function book(doctor) {
  await doctor.goto(`${visita.url}/`);
  await hydrated(doctor);
  await doctor.getByLabel("Patient's name").fill('Ana Ruiz');
  await doctor.getByLabel("Patient's language").selectOption('en');
  await doctor.getByRole('button', { name: "Create and get the patient's link" }).click();
  const link = doctor.getByTestId('patient-link');
  await link.waitFor();
  return link.inputValue();
}

test('three people on one call through the SFU: media forwarded both ways, mute, camera off', async () => {
  const doctor = await newPage();
  const patient = await newPage();
  const translator = await newPage();
  await signIn(doctor.page, visita.url, DOCTOR);
  await doctor.page.waitForURL(`${visita.url}/`);
  const link = await book(doctor.page);

  // The patient waits: no media reaches the waiting room.
  await patient.page.goto(link);
  await hydrated(patient.page);
  await patient.page.getByRole('button', { name: 'Join the waiting room' }).click();
  await patient.page.getByTestId('waiting-title').waitFor();
  await hydrated(patient.page);
  assert.equal(await patient.page.evaluate(() => window.__peerConnections.length), 0, 'no call from the waiting room');

  // A pass asked for from the waiting room is refused in plain words.
  const refusal = await patient.page.evaluate(async () => {
    const id = location.pathname.split('/').pop();
    const ws = new WebSocket(`ws://${location.host}/ws?first=${encodeURIComponent(JSON.stringify([{ type: 'media_pass', id }]))}`);
    return new Promise((resolve) => {
      ws.onmessage = (e) => {
        const message = JSON.parse(e.data);
        if (message.type === 'media_error' || message.type === 'media_pass') {
          ws.close();
          resolve(message);
        }
      };
      ws.onclose = () => resolve(null);
    });
  });
  assert.equal(refusal?.type, 'media_error', JSON.stringify(refusal));
  assert.match(refusal.message, /once the clinician has let you in/);

  // The doctor lets the patient in; both are on the call.
  const line = doctor.page.locator('li.day-line[data-patient="Ana Ruiz"]');
  await line.getByTestId('admit').click();
  await doctor.page.waitForURL(/\/room\//);
  await hydrated(doctor.page);
  await patient.page.getByTestId('video-slot').waitFor({ timeout: 10_000 });

  // The doctor and the patient see and hear each other.
  await assertReceiving(doctor.page, 'doctor', 1);
  await assertReceiving(patient.page, 'patient', 1);

  // The translator (in an organisation for English) is asked for and joins.
  await adminAddsTranslatorOrg('Interprètes', 'en', TRANSLATOR.name);
  await signIn(translator.page, visita.url, TRANSLATOR);
  await translator.page.waitForURL(`${visita.url}/`);
  await hydrated(translator.page);
  await doctor.page.getByText('Ask for a translator').click();
  await doctor.page.getByLabel('Language to translate').fill('en');
  await doctor.page.getByRole('button', { name: 'Ask the translators' }).click();
  const request = translator.page.locator('[data-testid="translation-request"][data-language="en"]');
  await request.waitFor({ timeout: 10_000 });
  await request.getByRole('button', { name: 'Accept and join' }).click();
  await translator.page.waitForURL(/\/room\//);
  await hydrated(translator.page);

  // Everyone receives audio and video from the two others, decoded.
  const forwardedBefore = await metric('visita_sfu_packets_forwarded_total');
  for (const [page, who] of [[doctor.page, 'doctor'], [patient.page, 'patient'], [translator.page, 'translator']]) {
    await assertReceiving(page, who, 2);
  }
  const forwardedAfter = await metric('visita_sfu_packets_forwarded_total');
  assert.ok(forwardedAfter - forwardedBefore > 500, `the SFU forwarded ${forwardedAfter - forwardedBefore} packets`);
  assert.equal(await metric('visita_sfu_participants'), 3);

  // Tiles say who is who.
  const captions = await doctor.page.locator('[data-testid="tile"] figcaption').allInnerTexts();
  assert.ok(captions.some((c) => /Ana Ruiz — Patient/.test(c)), captions.join(' | '));
  assert.ok(captions.some((c) => /Olena Koval — Translator/.test(c)), captions.join(' | '));

  // The patient mutes: no more audio bytes from them reach the doctor.
  const patientStream = await doctor.page.locator('[data-testid="tile"]', { hasText: 'Ana Ruiz' }).getAttribute('data-stream');
  await patient.page.getByTestId('call-mic').click();
  await doctor.page.locator(`[data-stream="${patientStream}"][data-audio="false"]`).waitFor({ timeout: 5000 });
  await doctor.page.waitForTimeout(1000);
  const audioBytes = async () =>
    (await inbound(doctor.page)).find((s) => s.stream === patientStream && s.kind === 'audio')?.bytes ?? 0;
  const mutedAt = await audioBytes();
  await doctor.page.waitForTimeout(2000);
  assert.equal(await audioBytes(), mutedAt, 'audio kept arriving after mute');
  await patient.page.getByTestId('call-mic').click();
  await doctor.page.locator(`[data-stream="${patientStream}"][data-audio="true"]`).waitFor({ timeout: 5000 });

  // The patient turns the camera off: the others see the placeholder.
  await patient.page.getByTestId('call-camera').click();
  await doctor.page.locator(`[data-stream="${patientStream}"] [data-testid="camera-off"]`).waitFor({ timeout: 5000 });
  await translator.page.locator(`[data-stream="${patientStream}"] [data-testid="camera-off"]`).waitFor({ timeout: 5000 });
  await patient.page.getByTestId('call-camera').click();
  await doctor.page.locator(`[data-stream="${patientStream}"][data-video="true"]`).waitFor({ timeout: 5000 });

  for (const { context } of [doctor, patient, translator]) await context.close();
});

async function adminAddsTranslatorOrg(name, languages, member) {
  const { context, page } = await newPage();
  await signIn(page, visita.url, ADMIN);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/admin/translators`);
  await hydrated(page);
  await page.getByLabel('Name (an interpreting service, a team)').fill(name);
  await page.getByLabel('Languages it covers').fill(languages);
  await page.getByRole('button', { name: 'Add the organisation' }).click();
  const org = page.locator(`section[data-org="${name}"]`);
  await org.waitFor();
  await org.getByLabel(member).check();
  await org.getByRole('button', { name: 'Save the members' }).click();
  await page.getByText('Saved.').waitFor();
  await context.close();
}
