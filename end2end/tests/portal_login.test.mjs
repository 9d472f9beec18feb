// Sign-in from the hospital portal in Chromium: the portal (this test, with
// its RSA key) signs a JWT for a doctor and sends the browser to
// /auth/jwt?token=…; the doctor lands on their dashboard, signed in with
// their role. The same link a second time, and a token whose header says
// `alg: none`, give a plain refusal page and no session. A nurse without an
// account gets one from the token's groups; someone outside them does not.

import assert from 'node:assert/strict';
import { createSign, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createStaff, launchBrowser, startVisita } from './support.mjs';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../server/tests/integration/fixtures');
const PRIVATE = readFileSync(join(FIXTURES, 'portal_rsa_private.pem'), 'utf8');
const DOCTOR = { email: 'dr.portal@clinic.test', name: 'Dr Paula Portal', role: 'doctor', password: 'doctor password 12345' };

let visita;
let browser;

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

function signed(claims, header = { alg: 'RS256', typ: 'JWT' }) {
  const body = `${b64(header)}.${b64(claims)}`;
  const signature = createSign('RSA-SHA256').update(body).sign(PRIVATE).toString('base64url');
  return `${body}.${signature}`;
}

function claims(email, extra = { groups: ['portal-doctors'] }) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'https://portal.clinic.test', aud: 'visita', sub: email, email, iat: now, exp: now + 120, jti: randomUUID(), ...extra };
}

before(async () => {
  visita = await startVisita({
    env: {
      VISITA_PORTAL_JWT_ALGORITHM: 'RS256',
      VISITA_PORTAL_JWT_PUBLIC_KEY_FILE: join(FIXTURES, 'portal_rsa_public.pem'),
      VISITA_PORTAL_JWT_ISSUER: 'https://portal.clinic.test',
      VISITA_PORTAL_JWT_AUDIENCE: 'visita',
      VISITA_PORTAL_JWT_ROLE_MAP: 'portal-doctors=doctor; portal-nurses=nurse',
      VISITA_PORTAL_JWT_CREATE_ACCOUNTS: 'true',
    },
  });
  await createStaff(visita.url, DOCTOR);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
});

test('a portal token signs the doctor in; a replayed or unsigned one does not', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const token = signed(claims(DOCTOR.email));
  await page.goto(`${visita.url}/auth/jwt?token=${token}`);
  await page.waitForURL(`${visita.url}/`);
  const top = await page.locator('header.topbar').innerText();
  assert.match(top, /Dr Paula Portal/);
  assert.match(top, /doctor/i);

  const other = await (await browser.newContext()).newPage();
  const replayed = await other.goto(`${visita.url}/auth/jwt?token=${token}`);
  assert.equal(replayed.status(), 401);
  assert.match(await other.getByTestId('sign-in-refused').innerText(), /already used/);
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims(DOCTOR.email))}.`;
  const refused = await other.goto(`${visita.url}/auth/jwt?token=${unsigned}`);
  assert.equal(refused.status(), 401);
  assert.match(await other.getByTestId('sign-in-refused').innerText(), /not signed as this server expects/);
  // Still not signed in there: the dashboard sends to the sign-in page.
  await other.goto(`${visita.url}/`);
  await other.waitForURL(/\/login/);
  await context.close();
  await other.context().close();
});

test('someone the portal vouches for, without an account yet, gets one from their groups; outside them, nothing', async () => {
  const page = await (await browser.newContext()).newPage();
  const nurse = signed(claims('nina.portal@clinic.test', { groups: ['portal-nurses'], name: 'Nina Portal' }));
  await page.goto(`${visita.url}/auth/jwt?token=${nurse}`);
  await page.waitForURL(`${visita.url}/`);
  assert.match(await page.locator('header.topbar').innerText(), /Nina Portal[\s\S]*nurse/i);
  const outsider = await (await browser.newContext()).newPage();
  const refused = await outsider.goto(`${visita.url}/auth/jwt?token=${signed(claims('olaf@clinic.test', { groups: ['visitors'] }))}`);
  assert.equal(refused.status(), 401);
  assert.match(await outsider.getByTestId('sign-in-refused').innerText(), /no role in Visita/);
  await page.context().close();
  await outsider.context().close();
});
