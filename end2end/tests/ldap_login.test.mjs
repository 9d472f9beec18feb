// Sign-in against the hospital's directory in Chromium: Debian's slapd with
// StartTLS (a throw-away authority given to Visita as SSL_CERT_FILE), people
// in groups of groups. A doctor types their directory login and password in
// the ordinary sign-in form and lands on the dashboard as a doctor, made
// from a group two levels up; a nurse three levels up is a nurse; someone in
// none of the allowed groups, and a wrong password, are refused in plain
// words; every outcome is in the audit log.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE, SERVICE, startDirectory } from '../ldap/directory.mjs';
import { ADMIN, hydrated, launchBrowser, signIn, startVisita } from './support.mjs';

let directory;
let visita;
let browser;

before(async () => {
  directory = await startDirectory();
  visita = await startVisita({
    env: {
      SSL_CERT_FILE: directory.caFile,
      VISITA_LDAP_URL: directory.url,
      VISITA_LDAP_STARTTLS: 'true',
      VISITA_LDAP_BIND_DN: SERVICE.dn,
      VISITA_LDAP_BIND_PASSWORD: SERVICE.password,
      VISITA_LDAP_USER_BASE: `ou=people,${BASE}`,
      VISITA_LDAP_GROUP_BASE: `ou=groups,${BASE}`,
      VISITA_LDAP_ROLE_MAP: 'visita-doctors=doctor; visita-nurses=nurse',
      VISITA_LDAP_CREATE_ACCOUNTS: 'true',
    },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  await directory?.stop();
});

async function signInWithDirectory(login, password) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${visita.url}/login`);
  await hydrated(page);
  await page.getByLabel('Email address or user name').fill(login);
  await page.getByLabel('Password', { exact: true }).fill(password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/login')),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  return { page, response };
}

test('a doctor signs in with their directory login; their role comes from a group of groups', async () => {
  const { page } = await signInWithDirectory('dana', 'dana directory password');
  await page.waitForURL(`${visita.url}/`);
  const top = await page.locator('header.topbar').innerText();
  assert.match(top, /Dr Dana Directory/);
  assert.match(top, /doctor/i);
  await page.context().close();
});

test('a nurse three groups away is a nurse; the email works as the login too', async () => {
  const { page } = await signInWithDirectory('ned@clinic.test', 'ned directory password');
  await page.waitForURL(`${visita.url}/`);
  assert.match(await page.locator('header.topbar').innerText(), /Ned Nurse[\s\S]*nurse/i);
  await page.context().close();
});

test('someone outside the allowed groups, and a wrong password, are refused in plain words', async () => {
  const outside = await signInWithDirectory('otto', 'otto directory password');
  assert.equal(outside.response.status(), 403);
  await outside.page.getByText('none of the groups allowed').waitFor();
  const wrong = await signInWithDirectory('dana', 'not her password');
  assert.equal(wrong.response.status(), 401);
  await wrong.page.getByText('the password is wrong').waitFor();
  // A filter typed as a login finds nobody.
  const injected = await signInWithDirectory('*)(uid=*', 'whatever password');
  assert.equal(injected.response.status(), 401);
  for (const p of [outside.page, wrong.page, injected.page]) await p.context().close();
});

test('the audit log shows the directory sign-ins and refusals', async () => {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, visita.url, ADMIN);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/admin/audit?action=login.ldap`);
  const text = await page.getByTestId('audit-events').innerText();
  assert.match(text, /login\.ldap\s+ok\s+dana@clinic\.test/);
  assert.match(text, /login\.ldap\s+ok\s+ned@clinic\.test/);
  assert.match(text, /login\.ldap\s+denied.*otto@clinic\.test: no_role/);
  assert.match(text, /login\.ldap\s+failed.*dana: wrong_credentials/);
  await page.goto(`${visita.url}/admin/audit?action=user.create`);
  assert.match(await page.getByTestId('audit-events').innerText(), /dana@clinic\.test doctor from ldap/);
  await page.context().close();
});

test('an administrator tries the directory from the console', async () => {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, visita.url, ADMIN);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/admin/sign-in`);
  await hydrated(page);
  const card = page.getByTestId('sign-in-method').filter({ hasText: 'LDAP' });
  await card.getByLabel('Directory login').fill('ned');
  await card.getByLabel('Its password').fill('ned directory password');
  await card.getByRole('button', { name: 'Try sign-in' }).click();
  const report = await card.getByTestId('try-report').innerText();
  assert.match(report, /Groups\s+.*all-nurses/);
  assert.match(report, /In Visita\s+signs in as nurse/);
  await card.getByLabel('Its password').fill('wrong');
  await card.getByRole('button', { name: 'Try sign-in' }).click();
  await card.getByText('The directory did not sign ned in').waitFor();
  await page.context().close();
});
