// User stories of staff accounts, walked in a real browser.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN, hydrated, launchBrowser, signIn, startVisita } from './support.mjs';

const DOCTOR = { email: 'dr.ada@clinic.test', name: 'Ada Lovelace', password: 'doctor password 12345' };

let visita;
let browser;

before(async () => {
  visita = await startVisita();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const result = await visita?.stop();
  assert.equal(result?.code, 0, `visita should stop cleanly on SIGTERM:\n${visita?.output()}`);
});

test('the first admin signs in, creates a doctor and signs out', async () => {
  const page = await browser.newPage();
  await page.goto(`${visita.url}/`);
  assert.equal(new URL(page.url()).pathname, '/login', 'anonymous visitors are sent to the sign-in page');

  const response = await signIn(page, visita.url, ADMIN);
  assert.equal(response.status(), 200);
  await page.waitForURL(`${visita.url}/`);
  await page.getByRole('heading', { name: 'Today', exact: true }).waitFor();

  await page.getByRole('link', { name: 'Users' }).click();
  await page.waitForURL(`${visita.url}/admin/users`);
  await page.getByLabel('Email address').fill(DOCTOR.email);
  await page.getByLabel('Full name').fill(DOCTOR.name);
  await page.getByLabel('Role').selectOption('doctor');
  await page.getByLabel('First password').fill(DOCTOR.password);
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByText('The user has been added.').waitFor();
  const row = page.locator(`tr[data-email="${DOCTOR.email}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /Ada Lovelace[\s\S]*Doctor[\s\S]*Active/);

  // The same email twice is refused in plain words.
  await page.getByLabel('Email address').fill(DOCTOR.email);
  await page.getByLabel('Full name').fill('Someone Else');
  await page.getByLabel('First password').fill('another password 123');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByText(`An account with the email ${DOCTOR.email} already exists.`).waitFor();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${visita.url}/login`);
  await page.goto(`${visita.url}/admin/users`);
  assert.equal(new URL(page.url()).pathname, '/login', 'signed out means signed out');
  await page.close();
});

test('the doctor signs in and sees an empty dashboard, without the admin pages', async () => {
  const page = await browser.newPage();
  const response = await signIn(page, visita.url, DOCTOR);
  assert.equal(response.status(), 200);
  await page.waitForURL(`${visita.url}/`);
  await page.getByRole('heading', { name: 'Today', exact: true }).waitFor();
  assert.equal(await page.getByTestId('no-consultations').innerText(), 'No consultations today.');
  assert.match(await page.locator('.who').innerText(), /Ada Lovelace[\s\S]*Doctor/);
  assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0, 'no admin link for a doctor');

  // The admin page itself refuses with 403, in words, not with a blank screen.
  const refused = await page.goto(`${visita.url}/admin/users`);
  assert.equal(refused.status(), 403);
  await page.getByText('You are not allowed to do this.').waitFor();
  assert.equal(await page.getByLabel('First password').count(), 0, 'no admin form is shown');

  // And its server function refuses with 403.
  const status = await page.evaluate(async () => (await fetch('/api/users/list', { method: 'POST' })).status);
  assert.equal(status, 403);
  await page.close();
});

test('the doctor changes their own password and signs in with the new one', async () => {
  const page = await browser.newPage();
  await signIn(page, visita.url, DOCTOR);
  await page.waitForURL(`${visita.url}/`);
  await page.getByRole('link', { name: 'My password' }).click();
  await page.waitForURL(`${visita.url}/account/password`);
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password', { exact: true }).fill('a brand new doctor password');
  await page.getByLabel('New password again').fill('a brand new doctor password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Your current password is not right.').waitFor();

  await page.getByLabel('Current password').fill(DOCTOR.password);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Your password has been changed.').waitFor();
  DOCTOR.password = 'a brand new doctor password';
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${visita.url}/login`);
  const response = await signIn(page, visita.url, DOCTOR);
  assert.equal(response.status(), 200);
  await page.waitForURL(`${visita.url}/`);
  await page.close();
});

test('a wrong password shows a plain error', async () => {
  const page = await browser.newPage();
  const response = await signIn(page, visita.url, { email: DOCTOR.email, password: 'wrong password!!' });
  assert.equal(response.status(), 401);
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.innerText(), 'The email address or the password is wrong.');
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.close();
});

test('the show-password control works only once the page is hydrated', async () => {
  // Without JavaScript the control is inert: it is rendered disabled.
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const still = await plain.newPage();
  await still.goto(`${visita.url}/login`);
  assert.equal(await still.locator('#toggle-password').isDisabled(), true);
  await plain.close();

  const page = await browser.newPage();
  await page.goto(`${visita.url}/login`);
  await hydrated(page);
  const input = page.locator('#password');
  const toggle = page.locator('#toggle-password');
  assert.equal(await input.getAttribute('type'), 'password');
  await toggle.click();
  assert.equal(await input.getAttribute('type'), 'text');
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
  await toggle.click();
  assert.equal(await input.getAttribute('type'), 'password');
  await page.close();
});

test('an admin disables the doctor, who can no longer sign in', async () => {
  const admin = await browser.newPage();
  await signIn(admin, visita.url, ADMIN);
  await admin.waitForURL(`${visita.url}/`);
  await admin.goto(`${visita.url}/admin/users`);
  const row = admin.locator(`tr[data-email="${DOCTOR.email}"]`);
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.getByText('Disabled').waitFor();

  const doctor = await browser.newPage();
  const response = await signIn(doctor, visita.url, DOCTOR);
  assert.equal(response.status(), 403);
  await doctor.getByRole('alert').waitFor();

  await row.getByRole('button', { name: 'Enable' }).click();
  await row.getByText('Active').waitFor();
  await admin.close();
  await doctor.close();
});

test('signing in works with JavaScript turned off', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${visita.url}/login`);
  await page.getByLabel('Email address').fill(DOCTOR.email);
  await page.getByLabel('Password', { exact: true }).fill('wrong password!!');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('The email address or the password is wrong.').waitFor();

  await page.getByLabel('Email address').fill(DOCTOR.email);
  await page.getByLabel('Password', { exact: true }).fill(DOCTOR.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${visita.url}/`);
  await page.getByRole('heading', { name: 'Today', exact: true }).waitFor();
  await context.close();
});
