// Shared fixtures for the browser tests: a real `visita serve` on a free port
// with its own temporary data directory, and Debian's Chromium driven by
// playwright-core (never a downloaded browser).

import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

export const ADMIN = { email: 'admin@clinic.test', password: 'first admin password 42' };

const BIN = process.env.VISITA_BIN;
const SITE = process.env.VISITA_SITE_DIR;
if (!BIN || !SITE) throw new Error('run through `make test` (VISITA_BIN and VISITA_SITE_DIR are required)');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts Visita; resolves once /healthz answers. `dataDir` reuses a directory
 * (restart tests); `port` is chosen beforehand when a peer must know the URL
 * first (an identity provider's redirect URIs).
 */
export async function startVisita({ dataDir, env = {}, port: chosen } = {}) {
  const port = chosen ?? (await freePort());
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'visita-e2e-')));
  const url = `http://127.0.0.1:${port}`;
  // Media ports of its own, so servers of one run never share a port.
  const mediaBase = 20_000 + (port % 400) * 100;
  // Any free port, but not one of the media ports (Visita refuses that).
  let turnPort = await freePort();
  while (turnPort >= mediaBase && turnPort <= mediaBase + 99) turnPort = await freePort();
  const child = spawn(BIN, ['serve'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      RUST_LOG: process.env.VISITA_TEST_LOG ?? 'warn',
      VISITA_ADDR: `127.0.0.1:${port}`,
      VISITA_DATA_DIR: dir,
      VISITA_SITE_DIR: SITE,
      VISITA_ADMIN_EMAIL: ADMIN.email,
      VISITA_ADMIN_PASSWORD: ADMIN.password,
      VISITA_MEDIA_PORTS: `${mediaBase}-${mediaBase + 99}`,
      VISITA_TURN_PORT: String(turnPort),
      // Tests of other things sign in as the admin by password alone;
      // two_factor.test.mjs runs with the default (required).
      VISITA_TOTP_ADMINS: 'optional',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  // VISITA_TEST_SERVER_LOG=<file>: the servers' output, for debugging a test.
  if (process.env.VISITA_TEST_SERVER_LOG) {
    const file = createWriteStream(process.env.VISITA_TEST_SERVER_LOG, { flags: 'a' });
    child.stdout.pipe(file);
    child.stderr.pipe(file);
  }
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`visita exited early:\n${output}`);
      try {
        const response = await fetch(`${url}/healthz`);
        if (response.ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`visita did not become healthy:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    // Never leave a half-started server behind: it would keep the test run alive.
    child.kill('SIGKILL');
    if (!dataDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    url,
    dataDir: dir,
    pid: child.pid,
    mediaPorts: [mediaBase, mediaBase + 99],
    turnPort,
    output: () => output,
    /** SIGTERM (graceful) by default; 'SIGKILL' simulates a crash. */
    async stop(signal = 'SIGTERM', { keepData = false } = {}) {
      if (child.exitCode === null) child.kill(signal);
      const result = await exited;
      if (!keepData && !dataDir) await rm(dir, { recursive: true, force: true });
      return result;
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
    ],
  });
}

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe-core's serious and critical findings on the current page. */
export async function seriousFaults(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

/** Waits until the WASM has hydrated the page. */
export async function hydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
}

/** Fills and submits the sign-in form; resolves with the /api/login response. */
export async function signIn(page, url, { email, password }) {
  if (!page.url().endsWith('/login')) await page.goto(`${url}/login`);
  await hydrated(page);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/login')),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  return response;
}

/** Signs in as the first admin over HTTP and returns the session cookie. */
async function adminCookie(url) {
  const response = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(ADMIN),
    redirect: 'manual',
  });
  const cookie = response.headers.get('set-cookie');
  if (!cookie) throw new Error(`admin sign-in failed: ${response.status} ${await response.text()}`);
  return cookie.split(';')[0];
}

/** Creates a staff account through the admin's server function. */
export async function createStaff(url, { email, name, role, password }) {
  const response = await fetch(`${url}/api/users/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: await adminCookie(url) },
    body: new URLSearchParams({ email, name, role, password }),
  });
  if (!response.ok) throw new Error(`creating ${email} failed: ${response.status} ${await response.text()}`);
}

/** Runs `visita <args>` on `dataDir` (no server running there); stdout, stderr, status. */
export function runVisita(args, { dataDir, input = '' }) {
  const result = spawnSync(BIN, args, {
    input,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, RUST_LOG: 'warn', VISITA_DATA_DIR: dataDir },
  });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}
