// Invites, reminders and answers by email and text message, against real
// peers: aiosmtpd receives the email (parsed by Python's email package, its
// link followed into the waiting room in Chromium); an HTTP server answering
// like Twilio receives the text message, refuses one number like Twilio
// does (the clinician sees why), and Visita's webhooks take Twilio-signed
// answers and delivery reports. A reminder survives a crash of the server
// between booking and sending and goes out exactly once.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { ADMIN, createStaff, hydrated, launchBrowser, signIn, startVisita } from './support.mjs';
import { eventually, parseMime, startFakeTwilio, startSmtp, twilioSignature } from './peers.mjs';

const DOCTOR = { email: 'dr.martin@lilas.test', name: 'Claire Martin', role: 'doctor', password: 'doctor password 12345' };
const ACCOUNT = `AC${'0123456789abcdef'.repeat(2)}`;
const TOKEN = 'test-auth-token-0123456789';
const REFUSED = '+33699999999';

let smtp;
let twilio;
let visita;
let browser;
let env;
/** A data directory kept across a restart, removed at the end. */
let keptDir;

before(async () => {
  smtp = await startSmtp();
  twilio = await startFakeTwilio({ accountSid: ACCOUNT, authToken: TOKEN, refuse: [REFUSED] });
  env = {
    VISITA_CLINIC_NAME: 'Clinique des Lilas',
    VISITA_TIMEZONE: 'Europe/Paris',
    VISITA_DEFAULT_COUNTRY: 'FR',
    VISITA_SMTP_HOST: '127.0.0.1',
    VISITA_SMTP_PORT: String(smtp.port),
    VISITA_SMTP_SECURITY: 'none',
    VISITA_SMTP_FROM: 'Clinique des Lilas <visio@lilas.test>',
    VISITA_SMTP_REPLY_TO: 'accueil@lilas.test',
    VISITA_SMS_PROVIDER: 'twilio',
    VISITA_TWILIO_ACCOUNT_SID: ACCOUNT,
    VISITA_TWILIO_AUTH_TOKEN: TOKEN,
    VISITA_TWILIO_FROM: '+41225550100',
    VISITA_TWILIO_API_BASE: twilio.url,
    // Reminders one minute before: the restart test waits seconds, not hours.
    VISITA_REMINDER_OFFSETS: '1d,1m',
  };
  visita = await startVisita({ env });
  browser = await launchBrowser();
  await createStaff(visita.url, DOCTOR);
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  if (keptDir) await rm(keptDir, { recursive: true, force: true });
  await twilio?.close();
  await smtp?.stop();
});

/** `YYYY-MM-DDTHH:MM[:SS]` of `date` in Europe/Paris. */
function parisLocal(date, seconds = false) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Paris',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  const minute = `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
  return seconds ? `${minute}:${parts.second}` : minute;
}

async function doctorPage() {
  const context = await browser.newContext({ timezoneId: 'Europe/Paris' });
  const page = await context.newPage();
  await signIn(page, visita.url, DOCTOR);
  await page.waitForURL(`${visita.url}/`);
  await hydrated(page);
  return page;
}

async function book(page, { name, email = '', phone = '', when = '' }) {
  await page.getByLabel("Patient's name").fill(name);
  await page.getByLabel("Patient's email (optional)").fill(email);
  await page.getByLabel("Patient's mobile number (optional)").fill(phone);
  await page.getByLabel("Patient's language").selectOption('fr');
  await page.getByLabel("Patient's time zone").fill('Europe/Paris');
  await page.getByLabel('When (leave empty for now)').fill(when);
  await page.getByRole('button', { name: "Create and get the patient's link" }).click();
  const link = page.getByTestId('patient-link');
  await link.waitFor();
  return link.inputValue();
}

function messageLine(page, patient, channel, kind) {
  return page.locator(`li.day-line[data-patient="${patient}"] li[data-channel="${channel}"][data-kind="${kind}"]`);
}

test('the invite reaches a real SMTP server and Twilio; its link opens the waiting room', async () => {
  const doctor = await doctorPage();
  const inTwoDays = new Date(Date.now() + 2 * 86_400_000);
  const when = `${parisLocal(inTwoDays).slice(0, 10)}T10:30`;
  const link = await book(doctor, { name: 'Zoë Lambert', email: 'zoe@example.org', phone: '06 12 34 56 78', when });

  // The email: from the clinic, in French, text and HTML with the link, and
  // the calendar entry.
  const [file] = await eventually(async () => {
    const files = await smtp.messages();
    return files.length ? files : null;
  }, 20_000, 'the invite email');
  const mail = parseMime(file);
  assert.equal(mail.from, 'Clinique des Lilas <visio@lilas.test>');
  assert.equal(mail.to, 'zoe@example.org');
  assert.equal(mail.replyTo, 'accueil@lilas.test');
  assert.match(mail.subject, /^Votre consultation vidéo avec Claire Martin le \d\d\/\d\d\/\d{4} 10:30$/);
  assert.equal(mail.contentType, 'multipart/mixed');
  const text = mail.parts['text/plain'];
  assert.match(text, /Bonjour Zoë Lambert,/);
  assert.ok(text.includes(link), text);
  assert.ok(mail.parts['text/html'].includes(`href="${link}"`));
  assert.equal(mail.calendarName, 'consultation.ics');
  const ics = mail.parts['text/calendar'];
  assert.match(ics, /METHOD:PUBLISH/);
  assert.match(ics.replace(/\r\n /g, ''), new RegExp(`URL:${link.replace(/[/.]/g, '\\$&')}`));

  // The text message: Twilio's API called with the account's credentials,
  // the patient's number in E.164, our sender, the link last, and where to
  // report delivery.
  const sms = await eventually(() => twilio.requests.find((r) => r.form.To === '+33612345678'), 20_000, 'the text message');
  assert.equal(sms.path, `/2010-04-01/Accounts/${ACCOUNT}/Messages.json`);
  assert.equal(sms.form.From, '+41225550100');
  assert.ok(sms.form.Body.endsWith(link), sms.form.Body);
  assert.match(sms.form.Body, /^Clinique des Lilas : consultation vidéo avec Claire Martin le/);
  assert.equal(sms.form.StatusCallback, `${visita.url}/webhooks/sms/twilio/status`);

  // The clinician sees both sent, live.
  await messageLine(doctor, 'Zoë Lambert', 'email', 'invite').and(doctor.locator('[data-delivery="sent"]')).waitFor();
  await messageLine(doctor, 'Zoë Lambert', 'sms', 'invite').and(doctor.locator('[data-delivery="sent"]')).waitFor();
  // The 1-day reminder waits for its time.
  await messageLine(doctor, 'Zoë Lambert', 'sms', 'reminder').and(doctor.locator('[data-delivery="queued"]')).first().waitFor();

  // Twilio reports delivery (signed): the line says delivered.
  const report = { MessageSid: sms.sid, MessageStatus: 'delivered', AccountSid: ACCOUNT };
  const statusUrl = `${visita.url}/webhooks/sms/twilio/status`;
  const delivered = await fetch(statusUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilioSignature(TOKEN, statusUrl, report),
    },
    body: new URLSearchParams(report),
  });
  assert.equal(delivered.status, 204);
  await messageLine(doctor, 'Zoë Lambert', 'sms', 'invite').and(doctor.locator('[data-delivery="delivered"]')).waitFor();

  // The patient follows the emailed link: two clicks to the waiting room.
  const patientContext = await browser.newContext({ locale: 'fr-FR' });
  const patient = await patientContext.newPage();
  const emailedLink = text.match(/https?:\/\/\S+\/j\/[a-z2-9]{26}/)[0];
  assert.equal((await patient.goto(emailedLink)).status(), 200);
  await hydrated(patient);
  await patient.getByRole('button', { name: 'Entrer dans la salle d’attente' }).click();
  await patient.waitForURL(/\/room\//);
  await patient.getByTestId('waiting-title').waitFor();
  await patientContext.close();
  await doctor.context().close();
});

test('the clinician moves a consultation: the patient gets the new time at once', async () => {
  const doctor = await doctorPage();
  const day = (n) => parisLocal(new Date(Date.now() + n * 86_400_000)).slice(0, 10);
  await book(doctor, { name: 'Paul Moreau', phone: '06 55 66 77 88', when: `${day(4)}T09:00` });
  await eventually(() => twilio.requests.find((r) => r.form.To === '+33655667788'), 20_000, 'the invite');
  const line = doctor.locator('li.day-line[data-patient="Paul Moreau"]');
  await line.getByLabel('New time').fill(`${day(5)}T16:45`);
  await line.getByTestId('reschedule').click();
  const moved = await eventually(
    () => twilio.requests.find((r) => r.form.To === '+33655667788' && r.form.Body.includes('déplacée')),
    20_000,
    'the new time',
  );
  const [y, m, d] = day(5).split('-');
  assert.ok(moved.form.Body.includes(`déplacée au ${d}/${m}/${y} 16:45`), moved.form.Body);
  assert.match(moved.form.Body, /\/j\/[a-z2-9]{26}$/);
  // The old reminders are called off, the new ones planned.
  await messageLine(doctor, 'Paul Moreau', 'sms', 'reminder').and(doctor.locator('[data-delivery="cancelled"]')).first().waitFor();
  // The day list shows the new time.
  await line.filter({ hasText: 'at 16:45 (Europe/Paris)' }).waitFor();
  await doctor.context().close();
});

test('Twilio refuses a number: the clinician sees the message failed, and why', async () => {
  const doctor = await doctorPage();
  await book(doctor, { name: 'Marc Petit', phone: '06 99 99 99 99' });
  const line = messageLine(doctor, 'Marc Petit', 'sms', 'invite_now');
  await line.and(doctor.locator('[data-delivery="failed"]')).waitFor({ timeout: 20_000 });
  assert.match(
    await line.innerText(),
    /Invitation by text message to \+33699999999: not sent — Twilio refused the message: The 'To' number \+33699999999 is not a valid phone number\. \(error 21211\)/,
  );
  // Refused for good: Twilio was asked once, not retried.
  assert.equal(twilio.requests.filter((r) => r.form.To === REFUSED).length, 1);
  await doctor.context().close();
});

test('a patient answers by text message: YES confirms, forged or unknown gets nothing', async () => {
  const doctor = await doctorPage();
  const when = `${parisLocal(new Date(Date.now() + 3 * 86_400_000)).slice(0, 10)}T09:00`;
  await book(doctor, { name: 'Lina Haddad', phone: '+33 7 81 23 45 67', when });
  const inbound = `${visita.url}/webhooks/sms/twilio`;
  const post = (params, signature) =>
    fetch(inbound, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(signature ? { 'x-twilio-signature': signature } : {}),
      },
      body: new URLSearchParams(params),
    });
  const yes = { MessageSid: 'SM1', AccountSid: ACCOUNT, From: '+33781234567', To: '+41225550100', Body: 'Oui' };

  // Unsigned, and signed with another token: 403.
  assert.equal((await post(yes)).status, 403);
  assert.equal((await post(yes, twilioSignature('another token', inbound, yes))).status, 403);

  // A number with no consultation: 200, and no answer in it.
  const stranger = { ...yes, From: '+33600000001' };
  const silent = await post(stranger, twilioSignature(TOKEN, inbound, stranger));
  assert.equal(silent.status, 200);
  assert.doesNotMatch(await silent.text(), /<Message>/);

  // Signed YES: confirmed, answered in French, and the clinician sees it live.
  const answer = await post(yes, twilioSignature(TOKEN, inbound, yes));
  assert.equal(answer.status, 200);
  assert.match(await answer.text(), /<Message>Clinique des Lilas : merci, votre consultation du .* est confirmée\.<\/Message>/);
  await doctor
    .locator('li.day-line[data-patient="Lina Haddad"] [data-testid="patient-reply"]')
    .filter({ hasText: 'The patient confirmed by text message.' })
    .waitFor();
  await doctor.context().close();
});

test('the administrator sees the set-up and tests it: the provider\'s answer, word for word', async () => {
  const context = await browser.newContext();
  const admin = await context.newPage();
  await signIn(admin, visita.url, ADMIN);
  await admin.waitForURL(`${visita.url}/`);
  await admin.goto(`${visita.url}/admin/messages`);
  await hydrated(admin);
  const setup = await admin.locator('table.settings').allInnerTexts();
  assert.match(setup.join('\n'), new RegExp(`Server\\s+127\\.0\\.0\\.1:${smtp.port}`));
  assert.match(setup.join('\n'), /Auth token\s+set \(not shown\)/);
  assert.ok(!setup.join('\n').includes(TOKEN), 'the token is never shown');

  // A test text to a number Twilio refuses: Twilio's own words.
  await admin.getByLabel('By').selectOption('sms');
  await admin.getByLabel('To (an email address or a mobile number)').fill('06 99 99 99 99');
  await admin.getByRole('button', { name: 'Send the test' }).click();
  const refused = admin.locator('p.notice.error');
  await refused.waitFor();
  assert.equal(
    await refused.innerText(),
    "Not sent: Twilio refused the message: The 'To' number +33699999999 is not a valid phone number. (error 21211).",
  );

  // A test email: the server took it, and it arrived.
  const before = (await smtp.messages()).length;
  await admin.getByLabel('By').selectOption('email');
  await admin.getByLabel('To (an email address or a mobile number)').fill('it@lilas.test');
  await admin.getByRole('button', { name: 'Send the test' }).click();
  await admin.getByTestId('test-answer').waitFor();
  assert.match(await admin.getByTestId('test-answer').innerText(), /^The email server accepted the test message for it@lilas\.test/);
  const test = await eventually(async () => {
    const all = await smtp.messages();
    return all.length > before && all.map(parseMime).find((m) => m.subject === 'Visita test message');
  }, 10_000, 'the test email');
  assert.equal(test.to, 'it@lilas.test');
  await context.close();
});

test('a reminder due while the server is down goes out once after it restarts', async () => {
  const doctor = await doctorPage();
  // In 70 seconds: the 1-minute reminder is due 10 seconds from now.
  const start = new Date(Date.now() + 70_000);
  const cookies = await doctor.context().cookies();
  const session = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const booked = await fetch(`${visita.url}/api/consultations/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', cookie: session },
    body: new URLSearchParams({
      'booking[queue]': 'default',
      'booking[patient_name]': 'Hugo Blanc',
      'booking[patient_phone]': '06 55 44 33 22',
      'booking[language]': 'fr',
      'booking[timezone]': 'Europe/Paris',
      'booking[scheduled_for]': parisLocal(start, true),
      'booking[clinician_timezone]': 'Europe/Paris',
    }),
  });
  assert.equal(booked.status, 200, await booked.clone().text());
  const toHugo = () => twilio.requests.filter((r) => r.form.To === '+33655443322');
  await eventually(() => toHugo().length === 1, 20_000, 'the invite');
  await doctor.context().close();

  // The server dies before the reminder's time, and comes back after it.
  await visita.stop('SIGKILL', { keepData: true });
  keptDir = visita.dataDir;
  await new Promise((r) => setTimeout(r, Math.max(0, start.getTime() - 60_000 - Date.now()) + 2_000));
  assert.equal(toHugo().length, 1, 'nothing sent while down');
  visita = await startVisita({ dataDir: visita.dataDir, env });

  const reminder = await eventually(
    () => toHugo().find((r) => r.form.Body.includes('rappel')),
    20_000,
    'the reminder',
  );
  assert.ok(reminder.form.Body.match(/\/j\/[a-z2-9]{26}$/), reminder.form.Body);
  // Give a second sending every chance to happen: it must not.
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(toHugo().filter((r) => r.form.Body.includes('rappel')).length, 1);
  assert.equal(toHugo().length, 2);
});
