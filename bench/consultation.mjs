// Figures of the consultation loop, measured in headless Chromium against a
// release `visita serve`:
//   1. bytes to reach an interactive waiting room (what the browser loaded,
//      and what it weighs brotli-compressed, the way a phone on https gets it);
//   2. time from opening the link to an interactive waiting room, on loopback
//      and under an emulated 400 ms RTT / 1.6 Mbps line;
//   3. chat latency, send → shown on the other side, over 200 messages.
// Figures, not pass/fail. Goals (issue): ≤ 250 KB, ≤ 3 s.
//
//   make bench   (or: VISITA_BIN=… VISITA_SITE_DIR=… node bench/consultation.mjs)

import { brotliCompressSync } from 'node:zlib';
import { createStaff, hydrated, launchBrowser, signIn, startVisita } from '../end2end/tests/support.mjs';

const DOCTOR = { email: 'bench.doctor@clinic.test', name: 'Bench Doctor', role: 'doctor', password: 'bench doctor password 1' };
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
const RUNS = 5;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function book(page, url, name) {
  await page.goto(`${url}/`);
  await hydrated(page);
  await page.getByLabel("Patient's name").fill(name);
  await page.getByRole('button', { name: "Create and get the patient's link" }).click();
  const link = page.getByTestId('patient-link');
  await link.waitFor();
  return link.inputValue();
}

/** Opens the link, joins, waits for the live waiting room; returns timings and the responses seen. */
async function joinWaitingRoom(browser, link, network) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const responses = [];
  page.on('response', (r) => responses.push(r));
  if (network) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: network.rttMs,
      downloadThroughput: (network.mbps * 1e6) / 8,
      uploadThroughput: (network.mbps * 1e6) / 8,
    });
  }
  const start = performance.now();
  await page.goto(link);
  await hydrated(page);
  const inviteReady = performance.now() - start;
  await page.getByRole('button', { name: 'Join the waiting room' }).click();
  await page.getByTestId('waiting-title').waitFor();
  // Interactive means live: the islands are awake and the server answered
  // on the socket (position, "the doctor is ready" now update by themselves).
  await page.waitForSelector('body[data-hydrated="true"][data-live="true"]');
  const waitingReady = performance.now() - start;
  // The camera and microphone check then depends on the devices starting.
  await page.locator('[data-testid="device-check"] [data-state]').waitFor();
  const devicesReady = performance.now() - start;
  return { context, page, responses, inviteReady, waitingReady, devicesReady };
}

async function weigh(responses) {
  let wire = 0;
  let brotli = 0;
  const rows = [];
  const seen = new Map();
  for (const response of responses) {
    const request = response.request();
    const body = await response.body().catch(() => Buffer.alloc(0));
    const sizes = await request.sizes().catch(() => ({ responseBodySize: body.length, responseHeadersSize: 0 }));
    const onWire = sizes.responseBodySize + sizes.responseHeadersSize;
    // What it weighs with brotli (static files are stored precompressed;
    // pages and JSON are compressed on the fly).
    const compressed = body.length > 0 ? brotliCompressSync(body).length + sizes.responseHeadersSize : onWire;
    wire += onWire;
    // A URL asked for twice (a prefetch, then the page) is downloaded once:
    // count it once, at its largest reading.
    const url = response.url();
    const before = seen.get(url);
    if (before) {
      brotli += Math.max(0, compressed - before.brotli);
      before.brotli = Math.max(before.brotli, compressed);
      before.raw = Math.max(before.raw, body.length);
      before.times += 1;
      continue;
    }
    brotli += compressed;
    const row = { url: new URL(url).pathname.slice(0, 40), status: response.status(), raw: body.length, brotli: compressed, times: 1 };
    seen.set(url, row);
    rows.push(row);
  }
  return { wire, brotli, rows };
}

async function chatLatency(browser, url, doctorPage, count) {
  const link = await book(doctorPage, url, 'Chat Bench');
  const { context, page: patient } = await joinWaitingRoom(browser, link, null);
  await doctorPage.goto(`${url}/`);
  await hydrated(doctorPage);
  await doctorPage.locator('li.day-line[data-patient="Chat Bench"] [data-testid="admit"]').click();
  await doctorPage.waitForURL(/\/room\//);
  await hydrated(doctorPage);
  await patient.getByTestId('video-slot').waitFor();
  const consultation = new URL(doctorPage.url()).pathname.split('/').pop();
  // The doctor's page notes when each line appears.
  await doctorPage.evaluate(() => {
    window.__seen = {};
    new MutationObserver(() => {
      for (const li of document.querySelectorAll('[data-testid="chat-line"]')) {
        const m = li.textContent.match(/bench-(\d+)/);
        if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = Date.now();
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const sent = {};
  for (let i = 0; i < count; i++) {
    sent[i] = await patient.evaluate(
      async ([c, i]) => {
        const at = Date.now();
        const response = await fetch('/api/chat/send', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ consultation: c, body: `bench-${i}` }),
        });
        if (!response.ok) throw new Error(`send ${response.status}`);
        return at;
      },
      [consultation, i],
    );
  }
  await doctorPage.waitForFunction((n) => Object.keys(window.__seen).length >= n, count, { timeout: 60_000 });
  const seen = await doctorPage.evaluate(() => window.__seen);
  const latencies = Object.keys(sent)
    .map((i) => seen[i] - sent[i])
    .sort((a, b) => a - b);
  await context.close();
  return latencies;
}

const visita = await startVisita({ env: { VISITA_CLINIC_NAME: 'Bench Clinic' } });
const browser = await launchBrowser();
try {
  await createStaff(visita.url, DOCTOR);
  const doctor = await browser.newPage();
  await signIn(doctor, visita.url, DOCTOR);
  await doctor.waitForURL(`${visita.url}/`);

  console.log('== Waiting room: what a patient downloads (cold cache) ==');
  const first = await joinWaitingRoom(browser, await book(doctor, visita.url, 'Bytes Bench'), null);
  const weight = await weigh(first.responses);
  for (const row of weight.rows) {
    const again = row.times > 1 ? `  (asked ${row.times}×, downloaded once)` : '';
    console.log(`  ${String(row.status).padEnd(4)} ${row.url.padEnd(42)} raw ${kb(row.raw).padStart(10)}  brotli ${kb(row.brotli).padStart(9)}${again}`);
  }
  console.log(`  total as transferred here (Chromium took the br files): ${kb(weight.wire)}`);
  console.log(`  total brotli-compressed (goal ≤ 250 KB):            ${kb(weight.brotli)}`);
  await first.context.close();

  console.log('== Time from opening the link to an interactive waiting room (goal ≤ 3 s) ==');
  for (const [label, network] of [
    ['loopback', null],
    ['400 ms RTT, 1.6 Mbps', { rttMs: 400, mbps: 1.6 }],
  ]) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const run = await joinWaitingRoom(browser, await book(doctor, visita.url, `Time Bench ${i}`), network);
      runs.push(run);
      await run.context.close();
    }
    const invite = runs.map((r) => r.inviteReady).sort((a, b) => a - b);
    const waiting = runs.map((r) => r.waitingReady).sort((a, b) => a - b);
    const devices = runs.map((r) => r.devicesReady).sort((a, b) => a - b);
    const s = (sorted) => `median ${(percentile(sorted, 50) / 1000).toFixed(2)} s, worst ${(sorted.at(-1) / 1000).toFixed(2)} s`;
    console.log(`  ${label} (n=${RUNS}, times from opening the link, the click included)`);
    console.log(`    invite page usable:              ${s(invite)}`);
    console.log(`    waiting room interactive (live): ${s(waiting)}`);
    console.log(`    camera and microphone checked:   ${s(devices)}`);
  }

  console.log('== Chat latency: patient sends, doctor sees (loopback) ==');
  const latencies = await chatLatency(browser, visita.url, doctor, 200);
  console.log(
    `  n=${latencies.length}  median ${percentile(latencies, 50)} ms  p99 ${percentile(latencies, 99)} ms  max ${latencies.at(-1)} ms`,
  );
} finally {
  await browser.close();
  await visita.stop();
}
