// The SFU under load, side by side with Janus (Debian's package, videoroom
// plugin), on loopback. For each scenario (N rooms × M participants, each
// sending audio at 50 packets/s and video at VIDEO_PPS), the same Rust
// clients (bench/sfu, on the webrtc crate) join Visita's SFU through its own
// API and signalling, then Janus's videoroom, and measure over a window:
//   - packets that reached subscribers per second (and the share expected);
//   - the SFU process's CPU seconds, so packets per CPU-second: what one
//     busy core forwards at that efficiency;
//   - one-way time publisher → SFU → subscriber, p50 / p99 (both clients
//     are this process: no clock skew; it includes both clients' stacks, so
//     it bounds the SFU's added latency from above);
//   - the SFU's resident memory per participant.
// Figures, not pass/fail. Goals (issue 5): ≥ 200 000 packets per CPU-second,
// ≥ 2 × Janus's packets per CPU-second, p99 added latency < 1 ms.
//
//   make bench-sfu   (or: VISITA_BIN=… VISITA_SITE_DIR=… SFU_BENCH_BIN=… node bench/sfu.mjs)
//   SFU_BENCH_SCENARIOS="1x3,10x3"  SFU_BENCH_SECONDS=10  SFU_BENCH_VIDEO_PPS=100

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN, createStaff, freePort, startVisita } from '../end2end/tests/support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CLIENT = process.env.SFU_BENCH_BIN ?? join(here, '..', 'target', 'release', 'sfu-bench');
const SCENARIOS = (process.env.SFU_BENCH_SCENARIOS ?? '1x3,10x3,25x4').split(',').map((s) => {
  const [rooms, participants] = s.split('x').map(Number);
  return { rooms, participants };
});
const SECONDS = Number(process.env.SFU_BENCH_SECONDS ?? 10);
const VIDEO_PPS = Number(process.env.SFU_BENCH_VIDEO_PPS ?? 100);
const DOCTOR = { email: 'sfu.bench@clinic.test', name: 'Bench Doctor', role: 'doctor', password: 'bench doctor password 1' };

/** POSTs a server function as a form; returns [JSON body, session cookie if one was set]. */
async function call(url, endpoint, fields, cookie) {
  const response = await fetch(`${url}/api/${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(fields),
    redirect: 'manual',
  });
  const text = await response.text();
  if (response.status >= 400) throw new Error(`${endpoint}: ${response.status} ${text}`);
  const set = response.headers.get('set-cookie');
  return [text ? JSON.parse(text) : null, set ? set.split(';')[0] : null];
}

/** Rooms of admitted participants (a doctor, the patient, guests), as the client needs them. */
async function visitaRooms(visita, rooms, participants) {
  const [, doctor] = await call(visita.url, 'login', { email: DOCTOR.email, password: DOCTOR.password });
  const [options] = await call(visita.url, 'consultations/booking-options', {}, doctor);
  const plan = [];
  for (let r = 0; r < rooms; r++) {
    const [created] = await call(visita.url, 'consultations/create', {
      'booking[queue]': options.queues[0].id,
      'booking[patient_name]': `Bench Patient ${r}`,
      'booking[language]': 'en',
      'booking[timezone]': options.timezone,
    }, doctor);
    await call(visita.url, 'consultations/auto-admit', { consultation: created.id, on: 'true' }, doctor);
    // The patient is let in by auto-admit; guests by the doctor.
    const links = [{ link: created.patient_link }];
    for (let g = 2; g < participants; g++) {
      const [issued] = await call(visita.url, 'consultations/invite-guest', {
        consultation: created.id, name: `Bench Guest ${r}.${g}`, language: 'en',
      }, doctor);
      links.push(issued);
    }
    const seats = [{ cookie: doctor, consultation: created.id }];
    for (const { link, participant } of links) {
      const token = new URL(link).pathname.split('/').pop();
      const [, cookie] = await call(visita.url, 'invite/join', { token }, null);
      if (!cookie) throw new Error('joining by link set no session');
      if (participant) await call(visita.url, 'consultations/admit', { participant }, doctor);
      seats.push({ cookie, consultation: created.id });
    }
    plan.push(seats);
  }
  return plan;
}

async function runClient(plan) {
  const dir = await mkdtemp(join(tmpdir(), 'sfu-bench-'));
  const file = join(dir, 'plan.json');
  await writeFile(file, JSON.stringify(plan));
  const child = spawn(CLIENT, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  await rm(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`sfu-bench exited ${code}: ${err.slice(-2000)}`);
  return JSON.parse(out.trim().split('\n').pop());
}

/** The machine's first non-loopback IPv4 address: Janus (libnice) never gathers on loopback. */
function ownAddress() {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('no IPv4 address besides loopback: Janus cannot be measured here');
}

async function startJanus(mediaFirst) {
  const dir = await mkdtemp(join(tmpdir(), 'janus-bench-'));
  const port = await freePort();
  const ip = ownAddress();
  execFileSync('bash', [join(here, 'janus-config.sh'), dir, String(port), String(mediaFirst), String(mediaFirst + 999), ip]);
  const child = spawn('janus', ['-F', dir, '-C', join(dir, 'janus.jcfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}/janus`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${url}/info`);
      if (r.ok) break;
    } catch {}
    if (child.exitCode !== null) throw new Error(`janus exited: ${output.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    ip,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function summary(result) {
  const perCpu = result.sfu_cpu_seconds > 0 ? result.packets_received / result.sfu_cpu_seconds : NaN;
  return {
    pps: result.packets_per_second,
    delivered: result.packets_received / Math.max(1, result.packets_expected),
    cpu: result.sfu_cpu_seconds / result.seconds,
    perCpu,
    p50: result.latency_us.p50,
    p99: result.latency_us.p99,
    rssPer: (result.rss_kib_during - result.rss_kib_before) / result.participants,
  };
}

function row(label, visita, janus, format) {
  const cell = (v) => (v === undefined ? '—' : format(v)).padStart(16);
  console.log(`  ${label.padEnd(40)}${cell(visita)}${cell(janus)}`);
}

const fmt = {
  int: (v) => Math.round(v).toLocaleString('en'),
  pct: (v) => `${(v * 100).toFixed(1)} %`,
  cores: (v) => `${v.toFixed(2)} cores`,
  us: (v) => `${v} µs`,
  kib: (v) => `${Math.round(v).toLocaleString('en')} KiB`,
};

console.log(`== SFU under load: ${SECONDS} s windows, audio 50 + video ${VIDEO_PPS} packets/s per participant, loopback, ${execFileSync('nproc').toString().trim()} cores ==`);
// `janus --version` prints its version and exits with status 1.
const janusVersion = spawnSync('janus', ['--version']).stdout?.toString().split('\n')[0] ?? 'not installed';
console.log(`  Janus: ${janusVersion}`);
for (const { rooms, participants } of SCENARIOS) {
  const results = {};
  const visita = await startVisita({
    env: { VISITA_MEDIA_MAX_SESSIONS: String(rooms + 1), VISITA_MEDIA_PORTS: '40000-40999', VISITA_TURN_PORT: 'off' },
  });
  try {
    await createStaff(visita.url, DOCTOR);
    const plan = await visitaRooms(visita, rooms, participants);
    results.visita = summary(await runClient({
      target: 'visita', origin: visita.url, rooms: plan, pid: visita.pid,
      video_pps: VIDEO_PPS, warmup_seconds: 3, seconds: SECONDS,
    }));
  } catch (error) {
    console.log(`  Visita failed: ${error.message}`);
  } finally {
    await visita.stop();
  }
  let janus;
  try {
    janus = await startJanus(41000);
    results.janus = summary(await runClient({
      target: 'janus', url: janus.url, ip: janus.ip, rooms, participants, pid: janus.pid,
      video_pps: VIDEO_PPS, warmup_seconds: 3, seconds: SECONDS,
    }));
  } catch (error) {
    console.log(`  Janus failed: ${error.message}`);
  } finally {
    await janus?.stop();
  }
  const { visita: v, janus: j } = results;
  console.log(`-- ${rooms} room(s) × ${participants} participants --${' '.repeat(17)}${'Visita'.padStart(16)}${'Janus'.padStart(16)}`);
  row('packets delivered to subscribers per s', v?.pps, j?.pps, fmt.int);
  row('  of those sent to them', v?.delivered, j?.delivered, fmt.pct);
  row('SFU CPU', v?.cpu, j?.cpu, fmt.cores);
  row('packets per CPU-second (one core)', v?.perCpu, j?.perCpu, fmt.int);
  row('one-way through the SFU, p50', v?.p50, j?.p50, fmt.us);
  row('one-way through the SFU, p99', v?.p99, j?.p99, fmt.us);
  row('SFU memory per participant', v?.rssPer, j?.rssPer, fmt.kib);
  if (v && j) console.log(`  Visita forwards ${(v.perCpu / j.perCpu).toFixed(2)} × Janus's packets per CPU-second`);
}
