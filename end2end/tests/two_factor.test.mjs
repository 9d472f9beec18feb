// Two-step sign-in in Chromium, with administrators required to use an
// authenticator app (the default): the first admin's first password
// sign-in leads to setting one up (a QR code and the key in letters); the
// first code opens the session. Next time the code page asks for a code: a
// wrong one and a used one are refused in plain words; a fresh one signs in.
// `visita admin reset-two-factor` removes the authenticator. A doctor (not
// required to) sets one up from their account page.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ADMIN, hydrated, launchBrowser, runVisita, seriousFaults, signIn, startVisita } from './support.mjs';

let visita;
let browser;
let secret;

/** RFC 6238 code (SHA-1, 6 digits, 30 s) for base32 `key` at step `step`. */
function totp(key, step = Math.floor(Date.now() / 30_000)) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of key.replace(/\s/g, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac('sha1', bytes).update(counter).digest();
  const offset = digest[19] & 0xf;
  const value = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

before(async () => {
  visita = await startVisita({ env: { VISITA_TOTP_ADMINS: 'required' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
});

async function passwordStep(page) {
  await page.goto(`${visita.url}/login`);
  await hydrated(page);
  await page.getByLabel('Email address').fill(ADMIN.email);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function typeCode(page, code) {
  await hydrated(page);
  await page.getByRole('textbox', { name: /six-digit code/i }).fill(code);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/login/code')),
    page.getByRole('button', { name: 'Continue' }).click(),
  ]);
  return response;
}

test("an admin's first sign-in sets up an authenticator; its first code opens the session", async () => {
  const page = await (await browser.newContext()).newPage();
  await passwordStep(page);
  await page.waitForURL(`${visita.url}/login/setup`);
  assert.equal(await page.locator('figure.qr svg').count(), 1, 'a QR code');
  secret = (await page.getByTestId('totp-secret').innerText()).trim();
  assert.deepEqual(await seriousFaults(page), [], 'the set-up page has no serious accessibility fault');
  assert.match(secret, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
  // The dashboard stays closed until the code.
  const dashboard = await (await page.context().newPage()).goto(`${visita.url}/`);
  assert.match(dashboard.url(), /\/login/);
  const wrong = await typeCode(page, totp(secret, Math.floor(Date.now() / 30_000) + 5));
  assert.equal(wrong.status(), 422);
  await page.getByText('This code is not right').waitFor();
  await typeCode(page, totp(secret));
  await page.waitForURL(`${visita.url}/`);
  assert.match(await page.locator('header.topbar').innerText(), /Admin/i);
  await page.context().close();
});

/** Types codes until one is fresh: the app's code now, or the next step's. */
async function signInWithCode(page) {
  for (;;) {
    const now = Math.floor(Date.now() / 30_000);
    for (const step of [now, now + 1]) {
      const response = await typeCode(page, totp(secret, step));
      if (response.status() < 400) return;
      assert.equal(response.status(), 422);
      await page.getByText('already used').waitFor();
    }
    // Both used already (sign-ins in the same minute): wait for the next step.
    await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 200));
  }
}

test('the next sign-in asks for a code; a used code is refused, a fresh one signs in', async () => {
  assert.ok(secret, 'the set-up test kept the key');
  const page = await (await browser.newContext()).newPage();
  await passwordStep(page);
  await page.waitForURL(`${visita.url}/login/code`);
  assert.deepEqual(await seriousFaults(page), [], 'the code page has no serious accessibility fault');
  // The set-up just used the code of this step.
  const used = await typeCode(page, totp(secret));
  if (used.status() === 422) await page.getByText('already used').waitFor();
  if (used.status() >= 400) await signInWithCode(page);
  await page.waitForURL(`${visita.url}/`);
  await page.context().close();
});

test('the code page without a pending sign-in says to start again', async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${visita.url}/login/code`);
  const response = await typeCode(page, '123456');
  assert.equal(response.status(), 403);
  await page.getByText('Sign in again with your password').waitFor();
  await page.context().close();
});

test('the audit log has the set-up and each code tried', async () => {
  const page = await (await browser.newContext()).newPage();
  await passwordStep(page);
  await page.waitForURL(`${visita.url}/login/code`);
  await signInWithCode(page);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/admin/audit?action=user.totp`);
  assert.match(await page.getByTestId('audit-events').innerText(), /user\.totp_set\s+ok/);
  await page.goto(`${visita.url}/admin/audit?action=login.totp&outcome=failed`);
  assert.ok((await page.getByTestId('audit-events').locator('tbody tr').count()) >= 1);
  await page.context().close();
});

test('an administrator who lost their phone gets a new set-up after reset-two-factor', async () => {
  await visita.stop('SIGTERM', { keepData: true });
  const reset = runVisita(['admin', 'reset-two-factor', '--email', ADMIN.email], { dataDir: visita.dataDir });
  assert.equal(reset.status, 0, reset.stderr);
  visita = await startVisita({ dataDir: visita.dataDir, env: { VISITA_TOTP_ADMINS: 'required' } });
  const page = await (await browser.newContext()).newPage();
  await passwordStep(page);
  await page.waitForURL(`${visita.url}/login/setup`);
  await page.context().close();
});

test('a doctor sets up an authenticator from their account page; their next sign-in asks for its code', async () => {
  const doctor = { email: 'dr.twostep@clinic.test', name: 'Dr Two Step', role: 'doctor', password: 'doctor password 12345' };
  // The admin has an authenticator now: create the doctor with the command line.
  await visita.stop('SIGTERM', { keepData: true });
  const made = runVisita(['admin', 'create-user', '--email', doctor.email, '--name', doctor.name, '--role', 'doctor', '--password-stdin'],
    { dataDir: visita.dataDir, input: `${doctor.password}\n` });
  assert.equal(made.status, 0, made.stderr);
  visita = await startVisita({ dataDir: visita.dataDir, env: { VISITA_TOTP_ADMINS: 'required' } });
  const page = await (await browser.newContext()).newPage();
  await signIn(page, visita.url, doctor);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/account/password`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await page.waitForURL(`${visita.url}/login/setup`);
  const key = (await page.getByTestId('totp-secret').innerText()).trim();
  await typeCode(page, totp(key));
  await page.waitForURL(`${visita.url}/`);
  const again = await (await browser.newContext()).newPage();
  await signIn(again, visita.url, doctor);
  await again.waitForURL(`${visita.url}/login/code`);
  await again.context().close();
  await page.context().close();
});
