// Prints the figures the foundation is judged by: bundle sizes, start-up
// time, idle memory, and request latencies of a release `visita serve` on
// the embedded database. Figures, not pass/fail: compare them across commits.
//
//   make bench        (or: VISITA_BIN=… VISITA_SITE_DIR=… node bench/foundation.mjs)

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BIN = process.env.VISITA_BIN ?? 'target/release/visita';
const SITE = process.env.VISITA_SITE_DIR ?? 'target/site';
const PASSWORD = 'benchmark admin password';

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const ms = (n) => `${n.toFixed(2)} ms`;
const sleep = (t) => new Promise((r) => setTimeout(r, t));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timeRequests(label, count, makeRequest) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const response = await makeRequest();
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${label}: HTTP ${response.status}`);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(34)} n=${String(count).padEnd(5)} p50 ${ms(percentile(times, 50))}  p95 ${ms(percentile(times, 95))}  max ${ms(times.at(-1))}`,
  );
}

async function rss(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Bundle sizes.
const pkg = join(SITE, 'pkg');
for (const bundle of ['patient', 'staff']) {
  const wasm = await readFile(join(pkg, `${bundle}_bg.wasm`));
  const js = await readFile(join(pkg, `${bundle}.js`));
  const wasmBr = (await stat(join(pkg, `${bundle}_bg.wasm.br`))).size;
  const jsBr = (await stat(join(pkg, `${bundle}.js.br`))).size;
  const label = `${bundle} islands`.padEnd(16);
  console.log(`${label} WASM              raw ${kib(wasm.length)}  brotli ${kib(wasmBr)}  gzip ${kib(gzipSync(wasm, { level: 9 }).length)}`);
  console.log(`${label} JS glue           raw ${kib(js.length)}  brotli ${kib(jsBr)}`);
}
const css = (await stat(join(pkg, 'visita.css'))).size;
console.log(`stylesheet                         raw ${kib(css)}`);
console.log(`server binary                      ${kib((await stat(BIN)).size)}`);

// Start-up and idle memory.
const dataDir = await mkdtemp(join(tmpdir(), 'visita-bench-'));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const started = performance.now();
const child = spawn(BIN, ['serve'], {
  env: {
    PATH: process.env.PATH,
    RUST_LOG: 'warn',
    VISITA_ADDR: `127.0.0.1:${port}`,
    VISITA_DATA_DIR: dataDir,
    VISITA_SITE_DIR: SITE,
    VISITA_ADMIN_EMAIL: 'admin@bench.test',
    VISITA_ADMIN_PASSWORD: PASSWORD,
  },
  stdio: 'ignore',
});
try {
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      /* not yet */
    }
    await sleep(20);
  }
  console.log(`start-up to healthy (fresh data dir) ${ms(performance.now() - started)}`);
  await sleep(5000);
  console.log(`idle RSS after 5 s                 ${kib(await rss(child.pid))}`);

  await timeRequests('GET /healthz', 500, () => fetch(`${url}/healthz`));
  await timeRequests('GET /login (SSR)', 300, () => fetch(`${url}/login`));
  await timeRequests('GET /pkg/patient_bg.wasm (br)', 50, () =>
    fetch(`${url}/pkg/patient_bg.wasm`, { headers: { 'accept-encoding': 'br' } }),
  );
  const form = () =>
    fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
      body: new URLSearchParams({ email: 'admin@bench.test', password: PASSWORD }),
    });
  await timeRequests('POST /api/login (argon2id)', 7, form);
  const cookie = (await form()).headers.getSetCookie()[0].split(';')[0];
  await timeRequests('GET / dashboard (session + SSR)', 300, () => fetch(`${url}/`, { headers: { cookie } }));
  console.log(`RSS after the requests above       ${kib(await rss(child.pid))}`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  await rm(dataDir, { recursive: true, force: true });
}
