// Figures of the REST API against a release `visita serve` on the embedded
// database: booking through `POST /api/v1/consultations` (one client, then
// 8 at once), reading one back, and a list page, with p50/p99 latency and
// requests per second. Figures, not pass/fail.
//
//   make bench   (or: VISITA_BIN=… VISITA_SITE_DIR=… node bench/api.mjs)

import { mkdtemp, rm } from 'node:fs/promises';
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
    ['admin', 'create-api-key', '--name', 'bench', '--scopes', 'consultations:read,consultations:write', '--requests-per-minute', '100000'],
    { dataDir },
  );
  if (made.status !== 0) throw new Error(made.stderr);
  const key = made.stdout.trimEnd().split('\n').at(-1);
  visita = await startVisita({ dataDir });
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
} finally {
  await visita?.stop();
  await rm(dataDir, { recursive: true, force: true });
}
