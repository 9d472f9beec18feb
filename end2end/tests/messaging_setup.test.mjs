// The administrator sets up email and text messages from the console, on a
// server whose file sets up neither: a mistake is refused naming the field;
// the saved set-up reaches a real SMTP server that demands STARTTLS (its
// certificate signed by the hospital's own authority) and an HTTP server
// answering like Twilio; the secrets are never shown back, never written in
// the clear to the data folder or the log, and survive a restart; SMTPS
// (TLS from the start) works too; "use the server's file again" undoes it.

import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN, hydrated, launchBrowser, signIn, startVisita } from './support.mjs';
import { eventually, makeCertificate, parseMime, startFakeTwilio, startSmtp } from './peers.mjs';

const ACCOUNT = `AC${'fedcba9876543210'.repeat(2)}`;
const TOKEN = 'console-auth-token-7f3a9c2e5b';
const PASSWORD = 'smtp-password-never-shown-41';

let certs;
let starttls;
let smtps;
let twilio;
let visita;
let browser;
let dataDir;

before(async () => {
  certs = await makeCertificate();
  starttls = await startSmtp({ tls: { mode: 'starttls', cert: certs.cert, key: certs.key } });
  smtps = await startSmtp({ tls: { mode: 'smtps', cert: certs.cert, key: certs.key } });
  twilio = await startFakeTwilio({ accountSid: ACCOUNT, authToken: TOKEN });
  visita = await startVisita({ env: { VISITA_TIMEZONE: 'Europe/Paris', RUST_LOG: 'info' } });
  dataDir = visita.dataDir;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  await twilio?.close();
  await starttls?.stop();
  await smtps?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

async function adminPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, visita.url, ADMIN);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/admin/messages`);
  await hydrated(page);
  return page;
}

const field = (page, label) => page.locator('[data-testid="setup-form"]').getByLabel(label, { exact: true });
const tables = async (page) => (await page.getByTestId('setup-tables').innerText()).replace(/\s+/g, ' ');

async function save(page) {
  await page.getByRole('button', { name: 'Save the set-up' }).click();
}

async function sendTest(page, channel, to) {
  await page.getByLabel('By').selectOption(channel);
  await page.getByLabel('To (an email address or a mobile number)').fill(to);
  await page.getByRole('button', { name: 'Send the test' }).click();
}

/** Every file under `dir`, read whole. */
async function filesUnder(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(await readFile(join(entry.parentPath ?? entry.path, entry.name)));
  }
  return out;
}

test('the administrator sets up STARTTLS email and Twilio in the console; secrets stay secret', async () => {
  const admin = await adminPage();
  assert.match(await admin.getByTestId('setup-origin').innerText(), /Set in the server's visita\.toml/);
  assert.match(await tables(admin), /Email not set up/);

  // A mistake is refused, naming the field, and nothing is saved.
  await field(admin, 'Email server').fill('127.0.0.1');
  await field(admin, 'Port').fill('not a port');
  await field(admin, 'Sender').fill('Clinique des Lilas <visio@lilas.test>');
  await save(admin);
  const refused = admin.getByTestId('setup-error');
  await refused.waitFor();
  assert.equal(await refused.getAttribute('data-field'), 'smtp_port');
  assert.equal(await refused.innerText(), 'Port: "not a port" is not a port number like 587.');
  assert.match(await tables(admin), /Email not set up/);

  // The real set-up: STARTTLS to a server whose certificate the hospital's
  // authority signed, and Twilio.
  await field(admin, 'Port').fill(String(starttls.port));
  await field(admin, 'Security').selectOption('starttls');
  await field(admin, 'Extra certificate authority').fill(certs.ca);
  await field(admin, 'Gateway').selectOption('twilio');
  await field(admin, 'Account SID').fill(ACCOUNT);
  await field(admin, 'Auth token').fill(TOKEN);
  await field(admin, 'Sender number').fill('+41225550100');
  await field(admin, 'API address').fill(twilio.url);
  await save(admin);
  await admin.getByTestId('setup-saved').waitFor();
  await eventually(async () => /Saved in this console by admin@clinic\.test/.test(await admin.getByTestId('setup-origin').innerText()), 10_000, 'the new origin');
  const shown = await tables(admin);
  assert.match(shown, new RegExp(`Server 127\\.0\\.0\\.1:${starttls.port}`));
  assert.match(shown, /Security starttls/);
  assert.match(shown, /Auth token set \(not shown\)/);
  assert.ok(!(await admin.content()).includes(TOKEN), 'the token is not in the page');
  assert.equal(await field(admin, 'Auth token').inputValue(), '', 'the secret is not put back in its field');
  assert.equal(await field(admin, 'Auth token').getAttribute('data-secret-set'), 'true');

  // A test email goes through STARTTLS (aiosmtpd refuses mail without it).
  await sendTest(admin, 'email', 'it@lilas.test');
  await admin.getByTestId('test-answer').waitFor();
  assert.match(await admin.getByTestId('test-answer').innerText(), /^The email server accepted the test message for it@lilas\.test/);
  const mail = await eventually(async () => (await starttls.messages()).map(parseMime)[0], 10_000, 'the test email over STARTTLS');
  assert.equal(mail.to, 'it@lilas.test');
  assert.equal(mail.from, 'Clinique des Lilas <visio@lilas.test>');

  // A test text reaches "Twilio" with the token typed in the console.
  await sendTest(admin, 'sms', '+41791234567');
  await eventually(async () => /accepted the test message for \+41791234567/.test(await admin.getByTestId('test-answer').innerText()), 10_000, 'the SMS test answer');
  const request = twilio.requests.at(-1);
  assert.equal(request.auth, `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}`);
  assert.equal(request.form.From, '+41225550100');

  // Saving again with the secret left empty keeps it.
  await field(admin, 'Sender').fill('Lilas <visio@lilas.test>');
  await save(admin);
  await eventually(async () => /Sender Lilas <visio@lilas\.test>/.test(await tables(admin)), 10_000, 'the second save');
  assert.match(await tables(admin), /Auth token set \(not shown\)/);

  // Neither secret is in the clear in the data folder or the log.
  await field(admin, 'Login').fill('visio');
  await field(admin, 'Password').fill(PASSWORD);
  await save(admin);
  await eventually(async () => /Password set \(not shown\)/.test(await tables(admin)), 10_000, 'the password saved');
  for (const bytes of await filesUnder(dataDir)) {
    assert.ok(!bytes.includes(TOKEN), 'the token is not stored in the clear');
    assert.ok(!bytes.includes(PASSWORD), 'the password is not stored in the clear');
  }
  assert.ok(!visita.output().includes(TOKEN) && !visita.output().includes(PASSWORD), 'no secret in the log');
  assert.match(visita.output(), /messaging set-up saved in the console/);
  // aiosmtpd offers no login: a login the server cannot take is the server's words.
  await field(admin, 'Password').fill('');
  await admin.locator('#s-smtp_password-forget').check();
  await field(admin, 'Login').fill('');
  await save(admin);
  await eventually(async () => /Password not set/.test(await tables(admin)), 10_000, 'the password removed');
  await admin.context().close();
});

test('the console set-up survives a restart; SMTPS works; the file applies again when asked', async () => {
  await visita.stop('SIGTERM', { keepData: true });
  visita = await startVisita({ dataDir, env: { VISITA_TIMEZONE: 'Europe/Paris' } });
  const admin = await adminPage();
  assert.match(await admin.getByTestId('setup-origin').innerText(), /Saved in this console by admin@clinic\.test/);
  const before = twilio.requests.length;
  await sendTest(admin, 'sms', '+41791234568');
  await eventually(async () => twilio.requests.length > before, 10_000, 'the SMS after the restart');
  assert.equal(twilio.requests.at(-1).auth, `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}`, 'the token opened after the restart');

  // TLS from the first byte (port 465 style).
  await field(admin, 'Port').fill(String(smtps.port));
  await field(admin, 'Security').selectOption('tls');
  await save(admin);
  await eventually(async () => /Security tls/.test(await tables(admin)), 10_000, 'the SMTPS set-up');
  await sendTest(admin, 'email', 'smtps@lilas.test');
  await eventually(async () => /accepted the test message for smtps@lilas\.test/.test(await admin.getByTestId('test-answer').innerText()), 10_000, 'the SMTPS answer');
  const mail = await eventually(async () => (await smtps.messages()).map(parseMime)[0], 10_000, 'the test email over SMTPS');
  assert.equal(mail.to, 'smtps@lilas.test');

  // Back to the file, which sets up no email: a test email says so.
  await admin.getByRole('button', { name: "Use the server's file again" }).click();
  await eventually(async () => /Set in the server's visita\.toml/.test(await admin.getByTestId('setup-origin').innerText()), 10_000, 'the file again');
  assert.match(await tables(admin), /Email not set up/);
  await sendTest(admin, 'email', 'it@lilas.test');
  const error = admin.locator('p.notice.error', { hasText: 'email is not set up' });
  await error.waitFor();
  await admin.context().close();
});
