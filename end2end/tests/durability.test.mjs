// What is committed survives: a kill -9 right after a write loses nothing,
// and a restart on the same data directory keeps every account. Also: the
// first start prints a generated admin password that works.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADMIN, startVisita } from './support.mjs';

/** Calls a server function as the browser's form post would. */
async function call(url, endpoint, fields, cookie) {
  const response = await fetch(`${url}/api/${endpoint}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: url,
      ...(cookie ? { cookie } : {}),
    },
    body: new URLSearchParams(fields),
  });
  const setCookie = response.headers.getSetCookie().map((c) => c.split(';')[0]);
  return { status: response.status, cookie: setCookie[0], body: await response.text() };
}

test('a user created just before a crash (kill -9) is still there after restart', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'visita-crash-'));
  try {
    const first = await startVisita({ dataDir });
    const login = await call(first.url, 'login', { email: ADMIN.email, password: ADMIN.password });
    assert.equal(login.status, 200, login.body);
    assert.match(login.cookie, /^visita_session=[0-9a-f]{64}$/);
    const created = await call(
      first.url,
      'users/create',
      { email: 'nurse@clinic.test', name: 'Nina Nurse', role: 'nurse', password: 'nurse password 123' },
      login.cookie,
    );
    assert.equal(created.status, 200, created.body);
    const killed = await first.stop('SIGKILL', { keepData: true });
    assert.equal(killed.signal, 'SIGKILL');

    const second = await startVisita({ dataDir });
    assert.match(second.output(), /Admin login:\s+admin@clinic\.test/, 'the admin is not created twice');
    const nurse = await call(second.url, 'login', { email: 'nurse@clinic.test', password: 'nurse password 123' });
    assert.equal(nurse.status, 200, nurse.body);
    // The session opened before the crash is still valid too.
    const list = await call(second.url, 'users/list', {}, login.cookie);
    assert.equal(list.status, 200, list.body);
    assert.deepEqual(JSON.parse(list.body).map((u) => u.email).sort(), ['admin@clinic.test', 'nurse@clinic.test']);
    await second.stop();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('without a configured password the first start prints one that works, once', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'visita-first-'));
  try {
    const first = await startVisita({ dataDir, env: { VISITA_ADMIN_PASSWORD: '' } });
    const printed = first.output().match(/Password:\s+(\S{20})\n/);
    assert.ok(printed, `a generated password is printed:\n${first.output()}`);
    const login = await call(first.url, 'login', { email: ADMIN.email, password: printed[1] });
    assert.equal(login.status, 200, login.body);
    await first.stop('SIGTERM', { keepData: true });

    const again = await startVisita({ dataDir, env: { VISITA_ADMIN_PASSWORD: '' } });
    assert.ok(!again.output().includes(printed[1]), 'the password is printed only at first start');
    await again.stop();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a cross-site form post is refused with 403', async () => {
  const visita = await startVisita();
  try {
    const response = await fetch(`${visita.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ email: ADMIN.email, password: ADMIN.password }),
    });
    assert.equal(response.status, 403);
    assert.match(await response.text(), /came from another website/);
  } finally {
    await visita.stop();
  }
});
