// Password sign-in turned down once single sign-on works:
// VISITA_PASSWORD_LOGIN=admins keeps the form for administrators only (the
// way in when the identity provider is down) and tells anyone else, in plain
// words, to use their organisation's button; `off` with no other way in is
// refused at start.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN, createStaff, launchBrowser, signIn, startVisita } from './support.mjs';

const DOCTOR = { email: 'dr.password@clinic.test', name: 'Dr Pass Word', role: 'doctor', password: 'doctor password 12345' };

let visita;
let browser;

before(async () => {
  visita = await startVisita({ env: { VISITA_PASSWORD_LOGIN: 'admins' } });
  await createStaff(visita.url, DOCTOR);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
});

test('with password sign-in for admins only, a doctor is told to use the organisation sign-in; the admin gets in', async () => {
  const page = await (await browser.newContext()).newPage();
  const refused = await signIn(page, visita.url, DOCTOR);
  assert.equal(refused.status(), 403);
  await page.getByText('Signing in with a Visita password is turned off here').waitFor();
  const admin = await (await browser.newContext()).newPage();
  await signIn(admin, visita.url, ADMIN);
  await admin.waitForURL(`${visita.url}/`);
  await admin.goto(`${visita.url}/admin/audit?action=login&outcome=denied`);
  assert.match(await admin.getByTestId('audit-events').innerText(), /dr\.password@clinic\.test: password_login_off/);
  await page.context().close();
  await admin.context().close();
});

test('password sign-in off with no other way in stops the server, saying why', async () => {
  await assert.rejects(startVisita({ env: { VISITA_PASSWORD_LOGIN: 'off' } }), /nobody could sign in/);
});
