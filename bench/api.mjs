// Figures of the REST API against a release `visita serve` on the embedded
// database: booking through `POST /api/v1/consultations` (one client, then
// 8 at once), reading one back, and a list page, with p50/p99 latency and
// requests per second; then webhooks: booking with a subscription active,
// and how long an event takes to reach a receiver on loopback (p50/p99 from
// the event to its receipt) and how many are delivered per second. Figures,
// not pass/fail.
//
//   make bench   (or: VISITA_BIN=… VISITA_SITE_DIR=… node bench/api.mjs)

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStaff, runVisita, startVisita } from '../end2end/tests/support.mjs';

const DOCTOR = { email: 'bench.api@clinic.test', name: 'Bench Api', role: 'doctor', password: 'bench doctor password 1' };
const ms = (n) => `${n.toFixed(1)} ms`;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(label, count, concurrency, once) {
  const times = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const t = performance.now();
        await once(n);
        times.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(44)} ${String(count).padStart(5)} requests  p50 ${ms(percentile(times, 50)).padStart(9)}  p99 ${ms(percentile(times, 99)).padStart(9)}  ${(count / seconds).toFixed(0).padStart(5)} req/s`,
  );
}

const dataDir = await mkdtemp(join(tmpdir(), 'visita-bench-api-'));
let visita;
try {
  const made = runVisita(
    ['admin', 'create-api-key', '--name', 'bench', '--scopes', 'consultations:read,consultations:write,webhooks:manage', '--requests-per-minute', '100000'],
    { dataDir },
  );
  if (made.status !== 0) throw new Error(made.stderr);
  const key = made.stdout.trimEnd().split('\n').at(-1);
  // The webhook receiver of the last figures is on loopback.
  visita = await startVisita({ dataDir, env: { VISITA_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1' } });
  await createStaff(visita.url, DOCTOR);
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const ids = [];
  const book = async (n) => {
    const response = await fetch(`${visita.url}/api/v1/consultations`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        patientName: `Bench Patient ${n}`, timezone: 'Europe/Paris', clinicianEmail: DOCTOR.email,
        scheduledAt: '2099-06-01T09:00:00Z', sendInvite: false, externalId: `B-${n}`,
      }),
    });
    if (response.status !== 201) throw new Error(`${response.status} ${await response.text()}`);
    ids.push((await response.json()).id);
  };
  const get = async (path) => {
    const response = await fetch(`${visita.url}${path}`, { headers });
    if (response.status !== 200) throw new Error(`${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  };
  console.log(`REST API, embedded database, loopback (${new Date().toISOString()})`);
  await measure('book (1 client)', 200, 1, book);
  await measure('book (8 clients)', 400, 8, (n) => book(1000 + n));
  await measure('read one (8 clients)', 1000, 8, (n) => get(`/api/v1/consultations/${ids[n % ids.length]}`));
  await measure('list a page of 50 (8 clients)', 400, 8, () => get('/api/v1/consultations?limit=50'));

  // Webhooks: every booking from here on is an event for one subscriber.
  const received = [];
  const receiver = createServer((request, response) => {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => {
      received.push({ at: Date.now(), event: JSON.parse(Buffer.concat(chunks).toString()) });
      response.writeHead(204).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const subscribed = await fetch(`${visita.url}/api/v1/webhooks`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ url: `http://127.0.0.1:${receiver.address().port}/hook`, events: ['consultation.created'] }),
  });
  if (subscribed.status !== 201) throw new Error(await subscribed.text());
  const events = 400;
  const start = Date.now();
  await measure('book with a webhook subscriber (8 clients)', events, 8, (n) => book(5000 + n));
  while (received.length < events && Date.now() - start < 120_000) await new Promise((r) => setTimeout(r, 50));
  const delays = received.map((r) => r.at - Date.parse(r.event.createdAt)).sort((a, b) => a - b);
  const span = (received.at(-1).at - start) / 1000;
  console.log(
    `${'webhook: event to receipt'.padEnd(44)} ${String(received.length).padStart(5)} events    p50 ${ms(percentile(delays, 50)).padStart(9)}  p99 ${ms(percentile(delays, 99)).padStart(9)}  ${(received.length / span).toFixed(0).padStart(5)} delivered/s`,
  );
  receiver.close();
} finally {
  await visita?.stop();
  await rm(dataDir, { recursive: true, force: true });
}
