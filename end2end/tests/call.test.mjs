// The call: doctor, patient and translator in one consultation, each with a
// fake camera and microphone, all media through Visita's SFU. Each page's
// own RTCPeerConnection stats must show audio and video arriving from the
// two others; the server's counters must show it forwarded those packets.
// Then muting, camera off, and a join from the waiting room refused.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
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

async function newPage(...initScripts) {
  const context = await browser.newContext();
  for (const script of [capturePeerConnections, ...initScripts]) await context.addInitScript(script);
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
        out.push({ kind: s.kind, bytes: s.bytesReceived ?? 0, frames: s.framesDecoded ?? 0, height: s.frameHeight ?? 0, track: s.trackIdentifier, debug: [s.ssrc, s.packetsReceived, s.packetsLost, s.framesReceived, s.keyFramesDecoded, s.pliCount, s.nackCount, s.framesDropped] });
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
      assert.ok(now.frames > before.frames, `${who}: no frames of ${key} decoded (${before.frames} → ${now.frames}) ${JSON.stringify(before.debug)} ${JSON.stringify(now.debug)} ${JSON.stringify([...later.values()])}`);
    }
  }
  return later;
}

/** Waits (up to `withinMs`) until video from `streamCount` others is decoded again, second after second. */
async function videoResumes(page, who, streamCount, withinMs) {
  const started = Date.now();
  const frames = async () =>
    new Map((await inbound(page)).filter((s) => s.kind === 'video' && s.stream).map((s) => [s.stream, s.frames]));
  let before = await frames();
  for (;;) {
    await page.waitForTimeout(1000);
    const now = await frames();
    const growing = [...now].filter(([stream, n]) => n > (before.get(stream) ?? n)).length;
    if (growing >= streamCount) return Date.now() - started;
    if (Date.now() - started > withinMs) {
      assert.fail(`${who}: video did not resume within ${withinMs} ms: ${JSON.stringify(await inbound(page))}`);
    }
    before = now;
  }
}

/** Sound from `stream` arrives at `page` and keeps arriving over 2 s; no video bytes from it at all. */
async function heardNotSeen(page, stream, who) {
  let first;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await page.waitForTimeout(250)) {
    first = (await inbound(page)).find((s) => s.stream === stream && s.kind === 'audio' && s.bytes > 0);
    if (first) break;
  }
  assert.ok(first, `no sound from ${who}`);
  await page.waitForTimeout(2000);
  const later = await inbound(page);
  assert.ok(later.find((s) => s.stream === stream && s.kind === 'audio').bytes > first.bytes, `the sound from ${who} stopped`);
  assert.equal(later.filter((s) => s.stream === stream && s.kind === 'video' && s.bytes > 0).length, 0, `video was sent from ${who}`);
}

async function metric(name, server = visita) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
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

  // The waiting room shows the patient their own picture and a bar that
  // moves when they speak (the fake microphone beeps).
  await patient.page.waitForFunction(() => document.querySelector('[data-testid="preview"]')?.videoWidth > 0, null, { timeout: 10_000 });
  await patient.page.waitForFunction(() => Number(document.querySelector('[data-testid="mic-level"]')?.value) > 0, null, { timeout: 10_000 });

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

  // Garbage at every media port and at the TURN server (UDP and TCP):
  // things shaped like STUN, RTP, RTCP, DTLS, and noise. The call goes on.
  await sendGarbage(visita);
  await assertReceiving(doctor.page, 'doctor after the garbage', 2, 1);
  assert.equal((await fetch(`${visita.url}/healthz`)).status, 200);

  // Tiles say who is who.
  const captions = await doctor.page.locator('[data-testid="tile"] figcaption').allInnerTexts();
  assert.ok(captions.some((c) => /Ana Ruiz — Patient/.test(c)), captions.join(' | '));
  assert.ok(captions.some((c) => /Olena Koval — Translator/.test(c)), captions.join(' | '));

  // The patient mutes: no more audio bytes from them reach the doctor.
  const patientStream = await doctor.page.locator('[data-testid="tile"]', { hasText: 'Ana Ruiz' }).getAttribute('data-stream');
  // Whoever speaks is highlighted (the fake microphones beep); each tile
  // shows how good that participant's connection looks from here.
  await doctor.page.locator('[data-testid="tile"].speaking').first().waitFor({ timeout: 10_000 });
  await doctor.page.locator(`[data-stream="${patientStream}"] [data-quality="good"]`).waitFor({ timeout: 10_000 });

  await patient.page.getByTestId('call-mic').click();
  await doctor.page.locator(`[data-stream="${patientStream}"][data-audio="false"]`).waitFor({ timeout: 5000 });
  await doctor.page.waitForTimeout(1000);
  const audioBytes = async () =>
    (await inbound(doctor.page)).find((s) => s.stream === patientStream && s.kind === 'audio')?.bytes ?? 0;
  const mutedAt = await audioBytes();
  await doctor.page.waitForTimeout(2000);
  assert.equal(await audioBytes(), mutedAt, 'audio kept arriving after mute');
  assert.equal(await doctor.page.locator(`[data-stream="${patientStream}"].speaking`).count(), 0, 'a muted patient shown speaking');
  await patient.page.getByTestId('call-mic').click();
  await doctor.page.locator(`[data-stream="${patientStream}"][data-audio="true"]`).waitFor({ timeout: 5000 });

  // The patient turns the camera off: the others see the placeholder.
  await patient.page.getByTestId('call-camera').click();
  await doctor.page.locator(`[data-stream="${patientStream}"] [data-testid="camera-off"]`).waitFor({ timeout: 5000 });
  await translator.page.locator(`[data-stream="${patientStream}"] [data-testid="camera-off"]`).waitFor({ timeout: 5000 });
  await patient.page.getByTestId('call-camera').click();
  await doctor.page.locator(`[data-stream="${patientStream}"][data-video="true"]`).waitFor({ timeout: 5000 });
  await assertReceiving(doctor.page, 'doctor after the camera came back', 2, 1);

  // The patient's network drops for 5 s: the page says so, then the video
  // comes back on its own, without a reload.
  const iceOf = (page) =>
    page.evaluate(() => ({
      connections: window.__peerConnections.length,
      ufrag: /a=ice-ufrag:(\S+)/.exec(window.__peerConnections.at(-1).localDescription.sdp)[1],
    }));
  const beforeDrop = await iceOf(patient.page);
  await patient.context.setOffline(true);
  await patient.page.locator('[data-testid="call"][data-phase="reconnecting"]').waitFor({ timeout: 5000 });
  await patient.page.waitForTimeout(5000);
  await patient.context.setOffline(false);
  const back = Date.now();
  await patient.page.locator('[data-testid="call"][data-phase="live"]').waitFor({ timeout: 10_000 });
  await videoResumes(patient.page, 'patient after the drop', 2, 10_000 - (Date.now() - back));
  await videoResumes(doctor.page, 'doctor after the drop', 2, 10_000 - (Date.now() - back));
  console.log(`video back both ways ${Date.now() - back} ms after the network returned`);
  // Same connection, new ICE credentials: an ICE restart, not a new call.
  const afterDrop = await iceOf(patient.page);
  assert.equal(afterDrop.connections, beforeDrop.connections);
  assert.notEqual(afterDrop.ufrag, beforeDrop.ufrag);

  // A join with no pass, or a forged one, is refused in plain words.
  const refusals = await doctor.page.evaluate(async () => {
    const id = location.pathname.split('/').pop();
    const ws = new WebSocket(`ws://${location.host}/ws?first=${encodeURIComponent(JSON.stringify([{ type: 'media_pass', id }]))}`);
    const next = () => new Promise((resolve) => {
      ws.onmessage = (e) => {
        const message = JSON.parse(e.data);
        if (message.type.startsWith('media_')) resolve(message);
      };
    });
    const pass = await next();
    const sdp = 'v=0\r\n';
    ws.send(JSON.stringify({ type: 'media_join', token: '', sdp }));
    const missing = await next();
    const [head, body, signature] = pass.pass.token.split('.');
    const forged = `${head}.${body}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    ws.send(JSON.stringify({ type: 'media_join', token: forged, sdp }));
    const invalid = await next();
    ws.close();
    return { pass: pass.type, missing, invalid };
  });
  assert.equal(refusals.pass, 'media_pass');
  assert.equal(refusals.missing.type, 'media_error');
  assert.match(refusals.missing.message, /No pass to the call/);
  assert.equal(refusals.invalid.type, 'media_error');
  assert.match(refusals.invalid.message, /not valid/);

  for (const { context } of [doctor, patient, translator]) await context.close();
});

/** A clinician signs in on `server`, books a patient, the patient waits and is let in: both on the call. */
async function callOn(server, clinician, patientName, { patientScripts = [], whileWaiting } = {}) {
  const doctor = await newPage();
  const patient = await newPage(...patientScripts);
  await signIn(doctor.page, server.url, clinician);
  await doctor.page.waitForURL(`${server.url}/`);
  await hydrated(doctor.page);
  await doctor.page.getByLabel("Patient's name").fill(patientName);
  await doctor.page.getByLabel("Patient's language").selectOption('en');
  await doctor.page.getByRole('button', { name: "Create and get the patient's link" }).click();
  const link = await doctor.page.getByTestId('patient-link').inputValue();
  await patient.page.goto(link);
  await hydrated(patient.page);
  await patient.page.getByRole('button', { name: 'Join the waiting room' }).click();
  await patient.page.getByTestId('waiting-title').waitFor();
  await whileWaiting?.(patient.page);
  await doctor.page.locator(`li.day-line[data-patient="${patientName}"]`).getByTestId('admit').click();
  await doctor.page.waitForURL(/\/room\//);
  await hydrated(doctor.page);
  return { doctor, patient };
}

test('a node at capacity says so to the clinician, and lets the call in once a place is free', async () => {
  const small = await startVisita({ env: { VISITA_MEDIA_MAX_SESSIONS: '1' } });
  const second = { email: 'dr.bailey@clinic.test', name: 'Miranda Bailey', role: 'doctor', password: 'doctor password 67890' };
  try {
    await createStaff(small.url, DOCTOR);
    await createStaff(small.url, second);
    const first = await callOn(small, DOCTOR, 'Ana Ruiz');
    await first.doctor.page.locator('[data-testid="call"][data-phase="live"]').waitFor({ timeout: 15_000 });
    const next = await callOn(small, second, 'Rui Costa');
    const refused = next.doctor.page.locator('[data-testid="call"][data-phase="failed"]');
    await refused.waitFor({ timeout: 15_000 });
    assert.match(await refused.locator('.call-status').innerText(), /at capacity right now/);
    // The first consultation's call ends: the second gets in by itself.
    await first.doctor.context.close();
    await first.patient.context.close();
    await next.doctor.page.locator('[data-testid="call"][data-phase="live"]').waitFor({ timeout: 20_000 });
    await assertReceiving(next.doctor.page, 'second doctor', 1);
    await next.doctor.context.close();
    await next.patient.context.close();
  } finally {
    await small.stop();
  }
});

function garbagePackets() {
  const shaped = (head, length) => Buffer.concat([Buffer.from(head), randomBytes(length)]);
  const packets = [
    shaped([0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42], 12), // STUN binding, no integrity
    shaped([0x00, 0x01, 0xff, 0xfc], 40), // STUN claiming a huge length
    shaped([0x80, 0x60, 0x00, 0x01], 8), // RTP header cut short
    shaped([0x90, 0xe0, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff], 4), // RTP, extension overruns
    shaped([0x80, 0xc8, 0xff, 0xff], 4), // RTCP sender report, length lies
    shaped([0x81, 0xce, 0x00, 0x02], 2), // PLI cut short
    shaped([0x16, 0xfe, 0xfd, 0x00, 0x00], 60), // DTLS record
    shaped([0x40, 0x00, 0xff, 0xff], 16), // TURN ChannelData, length lies
    Buffer.alloc(0),
  ];
  for (let i = 0; i < 20; i++) packets.push(randomBytes(1 + Math.floor(Math.random() * 1400)));
  return packets;
}

async function sendGarbage(server) {
  const socket = createSocket('udp4');
  const [first, last] = server.mediaPorts;
  const ports = [server.turnPort];
  for (let port = first; port <= last; port++) ports.push(port);
  for (const port of ports) {
    for (const packet of garbagePackets()) {
      await new Promise((resolve) => socket.send(packet, port, '127.0.0.1', () => resolve()));
    }
  }
  socket.close();
  for (const packet of garbagePackets()) {
    await new Promise((resolve) => {
      const tcp = connect(server.turnPort, '127.0.0.1', () => tcp.end(packet));
      tcp.on('close', resolve);
      tcp.on('error', resolve);
    });
  }
}

// A network that blocks UDP: the page may only use TURN over TCP.
function tcpTurnOnly() {
  const Wrapped = window.RTCPeerConnection;
  window.RTCPeerConnection = function (config = {}) {
    const iceServers = (config.iceServers ?? []).map((server) => ({
      ...server,
      urls: [].concat(server.urls).filter((url) => url.includes('transport=tcp')),
    }));
    return new Wrapped({ ...config, iceServers });
  };
  window.RTCPeerConnection.prototype = Wrapped.prototype;
}

/** The local candidate of the pair the page's connection uses. */
async function selectedLocalCandidate(page) {
  return page.evaluate(async () => {
    const report = await window.__peerConnections.at(-1).getStats();
    let pair;
    report.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
    });
    const local = pair && report.get(pair.localCandidateId);
    return local ? { type: local.candidateType, relayProtocol: local.relayProtocol ?? null } : null;
  });
}

test('a pass used after it expired is refused in plain words, and the page can get a new one', async () => {
  const strict = await startVisita({ env: { VISITA_MEDIA_PASS_SECONDS: '2' } });
  try {
    await createStaff(strict.url, DOCTOR);
    const { doctor, patient } = await callOn(strict, DOCTOR, 'Ana Ruiz');
    // The page's own pass is used at once: the call goes live.
    await doctor.page.locator('[data-testid="call"][data-phase="live"]').waitFor({ timeout: 20_000 });
    const answers = await doctor.page.evaluate(async () => {
      const id = location.pathname.split('/').pop();
      const ws = new WebSocket(`ws://${location.host}/ws?first=${encodeURIComponent(JSON.stringify([{ type: 'media_pass', id }]))}`);
      const next = () => new Promise((resolve) => {
        ws.onmessage = (e) => {
          const message = JSON.parse(e.data);
          if (message.type.startsWith('media_')) resolve(message);
        };
      });
      const pass = await next();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      ws.send(JSON.stringify({ type: 'media_join', token: pass.pass.token, sdp: 'v=0\r\n' }));
      const late = await next();
      ws.send(JSON.stringify({ type: 'media_pass', id }));
      const fresh = await next();
      ws.close();
      return { first: pass.pass.token, late, fresh: fresh.pass?.token };
    });
    assert.equal(answers.late.type, 'media_error');
    assert.match(answers.late.message, /pass to the call expired/);
    assert.equal(answers.late.retry, true, 'the page asks for a new pass by itself');
    assert.ok(answers.fresh && answers.fresh !== answers.first, 'a new pass is given on asking');
    await doctor.context.close();
    await patient.context.close();
  } finally {
    await strict.stop();
  }
});

test('a patient who chose audio only in the waiting room is heard, not seen', async () => {
  const { doctor, patient } = await callOn(visita, DOCTOR, 'Lea Martin', {
    whileWaiting: async (page) => {
      await page.getByTestId('audio-only').click();
      await page.getByTestId('audio-only-note').waitFor();
    },
  });
  const tile = doctor.page.locator('[data-testid="tile"]', { hasText: 'Lea Martin' });
  await tile.locator('[data-testid="camera-off"]').waitFor({ timeout: 15_000 });
  const stream = await tile.getAttribute('data-stream');
  // Audio from the patient keeps arriving; no video from them at all.
  await heardNotSeen(doctor.page, stream, 'the audio-only patient');
  // The patient's own camera button says it is off.
  assert.equal(await patient.page.getByTestId('call-camera').getAttribute('aria-pressed'), 'true');
  // They turn the camera on after all: the doctor sees them.
  await patient.page.getByTestId('call-camera').click();
  await doctor.page.locator(`[data-stream="${stream}"][data-video="true"]`).waitFor({ timeout: 10_000 });
  await videoResumes(doctor.page, 'doctor, once the audio-only patient turned the camera on', 1, 15_000);
  for (const { context } of [doctor, patient]) await context.close();
});

/** Bytes sent so far per simulcast layer (rid) of the page's camera. */
async function outboundLayers(page) {
  return page.evaluate(async () => {
    const pc = window.__peerConnections.at(-1);
    const layers = {};
    if (!pc) return layers;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) layers[s.rid] = s.bytesSent ?? 0;
    });
    return layers;
  });
}

/** Waits until the video of `stream` arrives at `page` at a height that satisfies `ok`. */
async function videoHeight(page, stream, ok, what, withinMs = 20_000) {
  let seen;
  for (const deadline = Date.now() + withinMs; Date.now() < deadline; await page.waitForTimeout(250)) {
    seen = (await inbound(page)).find((s) => s.stream === stream && s.kind === 'video');
    if (seen && seen.height > 0 && ok(seen.height)) return seen.height;
  }
  assert.fail(`${what}: the picture never had the expected size: ${JSON.stringify(seen)}`);
}

test('the camera goes out in two simulcast layers; data saver gets the low one and back; the speaker test sound plays', async () => {
  const layersBefore = await metric('visita_sfu_simulcast_layers_total');
  const { doctor, patient } = await callOn(visita, DOCTOR, 'Noah Fischer', {
    whileWaiting: async (page) => {
      // The waiting room's speaker check plays its sound to the end.
      await page.getByTestId('speaker-test').click();
      await page.locator('[data-testid="speaker-test"][data-played="true"]').waitFor({ timeout: 10_000 });
    },
  });
  const tile = doctor.page.locator('[data-testid="tile"]', { hasText: 'Noah Fischer' });
  await tile.waitFor({ timeout: 15_000 });
  const stream = await tile.getAttribute('data-stream');
  // Both layers leave the patient's browser and reach the SFU.
  let layers;
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await patient.page.waitForTimeout(250)) {
    layers = await outboundLayers(patient.page);
    if (layers.l > 0 && layers.m > 0) break;
  }
  assert.ok(layers.l > 0 && layers.m > 0, `the patient's camera is not sent in two layers: ${JSON.stringify(layers)}`);
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await patient.page.waitForTimeout(250)) {
    if ((await metric('visita_sfu_simulcast_layers_total')) >= layersBefore + 4) break;
  }
  assert.ok((await metric('visita_sfu_simulcast_layers_total')) >= layersBefore + 4, 'the SFU did not see two layers from each camera');
  // A good line: the doctor gets the full-size layer (640×480 → 480 high).
  const full = await videoHeight(doctor.page, stream, (h) => h > 240, 'doctor, good line');
  const switches = await metric('visita_sfu_layer_switches_total');
  // Data saver: the low layer (half the size), the picture going on.
  await doctor.page.getByTestId('call-data-saver').click();
  await doctor.page.getByTestId('data-saver-note').waitFor();
  const low = await videoHeight(doctor.page, stream, (h) => h <= full / 2, 'doctor, data saver', 15_000);
  await videoResumes(doctor.page, 'doctor, on the low layer', 1, 10_000);
  assert.ok((await metric('visita_sfu_layer_switches_total')) > switches, 'the SFU counted no layer switch');
  // Off again: back to the full size (after the steady wait before going up).
  await doctor.page.getByTestId('call-data-saver').click();
  await videoHeight(doctor.page, stream, (h) => h > low, 'doctor, data saver off', 15_000);
  // The patient, who never asked for data saver, still gets the doctor in full.
  const doctorStream = await patient.page.locator('[data-testid="tile"]', { hasText: 'Meredith Grey' }).getAttribute('data-stream');
  await videoHeight(patient.page, doctorStream, (h) => h > 240, 'patient');
  for (const { context } of [doctor, patient]) await context.close();
});

test('a site that caps what each participant receives below what a picture needs: the sound goes on, the tile says the picture is paused', async () => {
  const capped = await startVisita({ env: { VISITA_MEDIA_MAX_RECEIVE_KBPS: '40' } });
  try {
    await createStaff(capped.url, DOCTOR);
    const { doctor, patient } = await callOn(capped, DOCTOR, 'Ines Costa');
    const tile = doctor.page.locator('[data-testid="tile"]', { hasText: 'Ines Costa' });
    await tile.locator('[data-testid="video-held"]').waitFor({ timeout: 20_000 });
    assert.match(await tile.locator('[data-testid="video-held"]').innerText(), /Picture paused/);
    const stream = await tile.getAttribute('data-stream');
    await heardNotSeen(doctor.page, stream, 'the patient on the capped line');
    assert.ok((await metric('visita_sfu_videos_held_total', capped)) >= 2, 'both sides had a picture held back');
    // The patient's page says it too, about the doctor's picture.
    await patient.page.locator('[data-testid="tile"] [data-testid="video-held"]').waitFor({ timeout: 10_000 });
    for (const { context } of [doctor, patient]) await context.close();
  } finally {
    await capped.stop();
  }
});

test('relay only, UDP blocked for the patient: the call goes through the built-in TURN server over TCP', async () => {
  const relayed = await startVisita({ env: { VISITA_MEDIA_RELAY_ONLY: 'on' } });
  try {
    await createStaff(relayed.url, DOCTOR);
    const { doctor, patient } = await callOn(relayed, DOCTOR, 'Rui Costa', { patientScripts: [tcpTurnOnly] });
    await assertReceiving(doctor.page, 'doctor', 1);
    await assertReceiving(patient.page, 'patient', 1);
    assert.deepEqual(await selectedLocalCandidate(patient.page), { type: 'relay', relayProtocol: 'tcp' });
    assert.deepEqual(await selectedLocalCandidate(doctor.page), { type: 'relay', relayProtocol: 'udp' });
    for (const { context } of [doctor, patient]) await context.close();
  } finally {
    await relayed.stop();
  }
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
