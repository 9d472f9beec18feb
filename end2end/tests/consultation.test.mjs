// The consultation loop in three browsers: a doctor books, a patient joins
// by link and waits, the doctor sees them arrive live and lets them in, they
// chat both ways, the doctor closes; the patient's link then shows the
// ended page. A restart in the middle loses nothing.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN, createStaff, hydrated, launchBrowser, signIn, startVisita } from './support.mjs';

const DOCTOR = { email: 'dr.house@clinic.test', name: 'Gregory House', role: 'doctor', password: 'doctor password 12345' };
const TRANSLATOR = {
  email: 'amal@translators.test',
  name: 'Amal Haddad',
  role: 'translator',
  password: 'translator password 123',
};
const PATIENT = 'Zoë Ñúñez-Петрова';
// A 1×1 PNG: what the patient photographs.
const PHOTO = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

let visita;
let browser;

before(async () => {
  visita = await startVisita({ env: { VISITA_CLINIC_NAME: 'Clinique des Lilas', VISITA_TIMEZONE: 'Europe/Paris' } });
  browser = await launchBrowser();
  await createStaff(visita.url, DOCTOR);
  await createStaff(visita.url, TRANSLATOR);
});

after(async () => {
  await browser?.close();
  await visita?.stop();
});

async function bookAsDoctor(page, name, language = 'fr') {
  await page.goto(`${visita.url}/`);
  await hydrated(page);
  await page.getByLabel("Patient's name").fill(name);
  await page.getByLabel("Patient's language").selectOption(language);
  await page.getByLabel("Patient's time zone").fill('Europe/Zurich');
  await page.getByRole('button', { name: "Create and get the patient's link" }).click();
  const link = page.getByTestId('patient-link');
  await link.waitFor();
  return link.inputValue();
}

test('book, wait, admit live, chat both ways, close', async () => {
  const doctorContext = await browser.newContext();
  const patientContext = await browser.newContext({ locale: 'fr-FR' });
  const translatorContext = await browser.newContext();
  const doctor = await doctorContext.newPage();
  const patient = await patientContext.newPage();
  const translator = await translatorContext.newPage();

  await signIn(doctor, visita.url, DOCTOR);
  await doctor.waitForURL(`${visita.url}/`);
  const link = await bookAsDoctor(doctor, PATIENT);
  assert.match(link, /\/j\/[a-z2-9]{26}$/, link);

  // The dashboard lists the booking; the patient is not there yet.
  const line = doctor.locator(`li.day-line[data-patient="${PATIENT}"]`);
  await line.waitFor();
  assert.match(await line.innerText(), /Link not opened yet/);

  // The patient opens the link: clinic, clinician, in French; one button.
  const invite = await patient.goto(link);
  assert.equal(invite.status(), 200);
  await patient.getByRole('heading', { name: 'Votre consultation vidéo' }).waitFor();
  assert.match(await patient.locator('main').innerText(), /Avec Gregory House/);
  assert.match(await patient.locator('header').innerText(), /Clinique des Lilas/);
  assert.equal(await patient.locator('html').getAttribute('lang'), 'fr');
  await hydrated(patient);
  await patient.getByRole('button', { name: 'Entrer dans la salle d’attente' }).click();

  // Second click done: the patient is in the waiting room, devices checked.
  await patient.waitForURL(/\/room\//);
  await patient.getByTestId('waiting-title').waitFor();
  assert.equal(await patient.getByTestId('waiting-title').innerText(), 'Vous êtes dans la salle d’attente');
  await patient.locator('[data-testid="device-check"] [data-state="ready"]').waitFor();
  assert.match(await patient.getByTestId('position').innerText(), /Vous êtes le prochain/);

  // The doctor sees them arrive without reloading, and lets them in.
  const waiting = line.getByTestId('waiting');
  await waiting.waitFor({ timeout: 10_000 });
  assert.match(await waiting.innerText(), new RegExp(`${PATIENT} is waiting`));
  assert.match(await line.innerText(), /Link opened/);
  await line.getByTestId('admit').click();
  await doctor.waitForURL(/\/room\//);
  await hydrated(doctor);

  // The patient is let in, live.
  await patient.getByTestId('video-slot').waitFor({ timeout: 10_000 });
  await patient.getByRole('heading', { name: 'Votre consultation' }).waitFor();

  // Chat both ways.
  await patient.getByLabel('Écrire un message').fill('Bonjour docteur, j’ai mal à la tête');
  await patient.getByRole('button', { name: 'Envoyer', exact: true }).click();
  await doctor.getByText('Bonjour docteur, j’ai mal à la tête').waitFor({ timeout: 10_000 });
  await doctor.getByLabel('Write a message').fill('Depuis quand ?');
  await doctor.getByRole('button', { name: 'Send', exact: true }).click();
  await patient.getByText('Depuis quand ?').waitFor({ timeout: 10_000 });
  // Read markers: the doctor sees that the patient has read the answer.
  await doctor.getByTestId('seen').filter({ hasText: PATIENT }).waitFor({ timeout: 10_000 });
  const patientLines = await patient.getByTestId('chat-line').allInnerTexts();
  assert.equal(patientLines.length, 2);
  assert.match(patientLines[0], /^Vous/);
  assert.match(patientLines[1], /Gregory House \(Soignant\)/);

  // The patient sends a photo; the doctor sees it inline and opens the same bytes.
  await patient.getByLabel('Envoyer une photo ou un document').setInputFiles({
    name: 'gorge.png',
    mimeType: 'image/png',
    buffer: PHOTO,
  });
  await patient.getByRole('button', { name: 'Envoyer le fichier' }).click();
  const image = doctor.getByTestId('chat-image');
  await image.waitFor({ timeout: 10_000 });
  const src = await image.getAttribute('src');
  const download = await doctor.request.get(`${visita.url}${src}`);
  assert.equal(download.status(), 200);
  assert.equal(download.headers()['content-type'], 'image/png');
  assert.deepEqual(Buffer.from(await download.body()), PHOTO);
  // A file that is not an image or a PDF is refused in plain words.
  await patient.getByLabel('Envoyer une photo ou un document').setInputFiles({
    name: 'photo.png',
    mimeType: 'image/png',
    buffer: Buffer.from('<script>alert(1)</script>'),
  });
  await patient.getByRole('button', { name: 'Envoyer le fichier' }).click();
  await patient.getByText('This kind of file cannot be sent').waitFor();

  // The administrator puts the translator in an organisation that covers
  // Arabic and French (the admin page, as hospital IT would).
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await signIn(admin, visita.url, ADMIN);
  await admin.waitForURL(`${visita.url}/`);
  await admin.getByRole('link', { name: 'Translators' }).click();
  await admin.waitForURL(`${visita.url}/admin/translators`);
  await hydrated(admin);
  await admin.getByTestId('no-orgs').waitFor();
  await admin.getByLabel('Name (an interpreting service, a team)').fill('Interprètes du Rhône');
  await admin.getByLabel('Languages it covers').fill('ar, fr');
  await admin.getByRole('button', { name: 'Add the organisation' }).click();
  await admin.getByText('The organisation has been added.').waitFor();
  const org = admin.locator('section[data-org="Interprètes du Rhône"]');
  await org.getByText('Languages: ar, fr').waitFor();
  await org.getByLabel(TRANSLATOR.name).check();
  await org.getByRole('button', { name: 'Save the members' }).click();
  await admin.getByText('Saved.').waitFor();
  // A bad language code is refused in plain words.
  await admin.getByLabel('Name (an interpreting service, a team)').fill('Nowhere');
  await admin.getByLabel('Languages it covers').fill('klingon!');
  await admin.getByRole('button', { name: 'Add the organisation' }).click();
  await admin.getByText('is not a language code like fr, ar or pt-br').waitFor();
  await adminContext.close();

  // A translator is asked for; they see the request live, accept, and join.
  await signIn(translator, visita.url, TRANSLATOR);
  await translator.waitForURL(`${visita.url}/`);
  await hydrated(translator);
  await translator.getByTestId('no-translations').waitFor();
  await doctor.getByText('Ask for a translator').click();
  await doctor.getByLabel('Language to translate').fill('ar');
  await doctor.getByRole('button', { name: 'Ask the translators' }).click();
  await doctor.getByText('The translators of this language have been asked.').waitFor();
  const request = translator.locator('[data-testid="translation-request"][data-language="ar"]');
  await request.waitFor({ timeout: 10_000 });
  await request.getByRole('button', { name: 'Accept and join' }).click();
  await translator.waitForURL(/\/room\//);
  await translator.getByText('Depuis quand ?').waitFor();
  await hydrated(translator);
  await translator.getByLabel('Write a message').fill('مرحبا، أنا المترجمة');
  await translator.getByRole('button', { name: 'Send', exact: true }).click();
  await patient.getByText('مرحبا، أنا المترجمة').waitFor({ timeout: 10_000 });
  assert.match(await patient.locator('.people').innerText(), /Amal Haddad — Interprète/);

  // The doctor writes notes; they are saved as they type.
  await doctor.getByRole('textbox', { name: 'Notes' }).fill('Migraine depuis trois jours. Paracétamol 1 g.');
  await doctor.getByTestId('notes-status').filter({ hasText: 'Saved.' }).waitFor({ timeout: 10_000 });

  // A restart loses nothing: the history comes back from the database.
  const dataDir = visita.dataDir;
  const result = await visita.stop('SIGTERM', { keepData: true });
  assert.equal(result.code, 0, visita.output());
  const restarted = await startVisita({ dataDir, env: { VISITA_CLINIC_NAME: 'Clinique des Lilas' } });
  // Same data, new port: the old pages point at the old address.
  const room = new URL(patient.url()).pathname;
  visita = restarted;
  // Cookies are per host:port-less origin on 127.0.0.1, so sessions survive.
  await patient.goto(`${visita.url}${room}`);
  await patient.getByText('Depuis quand ?').waitFor();
  assert.equal((await patient.getByTestId('chat-line').allInnerTexts()).length, 4, 'two lines, the photo and the translator');
  await doctor.goto(`${visita.url}${room}`);
  await hydrated(doctor);
  await doctor.getByText('Bonjour docteur, j’ai mal à la tête').waitFor();
  assert.equal(await doctor.getByRole('textbox', { name: 'Notes' }).inputValue(), 'Migraine depuis trois jours. Paracétamol 1 g.');
  await hydrated(patient);

  // The doctor closes; the patient is told at once, and the link is dead.
  await doctor.getByRole('button', { name: 'Close the consultation' }).click();
  await patient.getByTestId('ended').waitFor({ timeout: 10_000 });
  const dead = await patient.goto(link.replace(/^http:\/\/[^/]+/, visita.url));
  assert.equal(dead.status(), 410);
  assert.equal(await patient.getByTestId('dead-link').innerText(), 'Cette consultation est terminée');

  // The report holds the patient, the chat (with the file's name) and the notes.
  await doctor.getByTestId('room-closed').waitFor();
  const reportHref = await doctor.getByTestId('report-link').getAttribute('href');
  const report = await doctor.request.get(`${visita.url}${reportHref}`);
  assert.equal(report.status(), 200);
  assert.equal(report.headers()['content-type'], 'application/pdf');
  const dir = await mkdtemp(join(tmpdir(), 'visita-report-'));
  await writeFile(join(dir, 'report.pdf'), await report.body());
  execFileSync('pdftotext', ['-enc', 'UTF-8', join(dir, 'report.pdf'), join(dir, 'report.txt')]);
  const text = (await readFile(join(dir, 'report.txt'), 'utf8')).replace(/\s+/g, ' ');
  assert.match(text, /Zoë Ñúñez-Петрова/);
  assert.match(text, /Bonjour docteur, j’ai mal à la tête/);
  assert.match(text, /Migraine depuis trois jours\. Paracétamol 1 g\./);
  assert.match(text, /gorge\.png/);
  assert.match(text, /Amal Haddad \(translator\)/);
  // The patient may not download it.
  const refused = await patient.request.get(`${visita.url}${reportHref}`);
  assert.equal(refused.status(), 403);

  await doctorContext.close();
  await patientContext.close();
  await translatorContext.close();
});

test('a patient session sees its own consultation only', async () => {
  const doctorContext = await browser.newContext();
  const doctor = await doctorContext.newPage();
  await signIn(doctor, visita.url, DOCTOR);
  await doctor.waitForURL(`${visita.url}/`);
  const linkA = await bookAsDoctor(doctor, 'Patient A', 'en');
  const linkB = await bookAsDoctor(doctor, 'Patient B', 'en');

  const a = await (await browser.newContext()).newPage();
  await a.goto(linkA);
  await a.getByRole('button', { name: 'Join the waiting room' }).click();
  await a.waitForURL(/\/room\//);
  const roomA = new URL(a.url()).pathname.split('/').pop();

  const b = await (await browser.newContext()).newPage();
  await b.goto(linkB);
  await b.getByRole('button', { name: 'Join the waiting room' }).click();
  await b.waitForURL(/\/room\//);
  const roomB = b.url();

  // B asks for A's room, A's state and A's chat: refused every time.
  const page = await b.goto(`${visita.url}/room/${roomA}`);
  assert.equal(page.status(), 403);
  for (const [path, body] of [
    ['/api/room/state', { consultation: roomA }],
    ['/api/chat/messages', { consultation: roomA }],
    ['/api/chat/send', { consultation: roomA, body: 'hello' }],
  ]) {
    const response = await b.request.post(`${visita.url}${path}`, { form: body });
    assert.equal(response.status(), 403, path);
  }
  // And B has no host's powers.
  const admit = await b.request.post(`${visita.url}/api/consultations/admit`, { form: { participant: 'x' } });
  assert.equal(admit.status(), 403);

  // The doctor cancels B's consultation: B is told at once, and the link dies.
  await b.goto(roomB);
  await hydrated(b);
  await doctor.goto(`${visita.url}/`);
  await hydrated(doctor);
  await doctor.locator('li.day-line[data-patient="Patient B"]').getByTestId('cancel').click();
  await b.getByTestId('ended').waitFor({ timeout: 10_000 });
  const dead = await b.goto(linkB);
  assert.equal(dead.status(), 410);
  await doctorContext.close();
});

test('forged and unknown links show a plain page and leak nothing', async () => {
  const context = await browser.newContext({ locale: 'en-GB' });
  const page = await context.newPage();
  for (const path of ['/j/aaaaaaaaaaaaaaaaaaaaaaaaaa', '/j/not-a-token', '/j/%3Cscript%3E']) {
    const response = await page.goto(`${visita.url}${path}`);
    assert.equal(response.status(), 404, path);
    assert.equal(await page.getByTestId('dead-link').innerText(), 'This link does not work');
  }
  await context.close();
});

test('joining works without JavaScript, and a link that dies before the click says so', async () => {
  const doctorContext = await browser.newContext();
  const doctor = await doctorContext.newPage();
  await signIn(doctor, visita.url, DOCTOR);
  await doctor.waitForURL(`${visita.url}/`);

  // No JavaScript at all: plain forms all the way to the waiting room and out.
  const plainLink = await bookAsDoctor(doctor, 'Plain Patient', 'en');
  const plainContext = await browser.newContext({ javaScriptEnabled: false });
  const plain = await plainContext.newPage();
  await plain.goto(plainLink);
  await plain.getByRole('button', { name: 'Join the waiting room' }).click();
  await plain.waitForURL(/\/room\//);
  assert.equal(await plain.getByTestId('waiting-title').innerText(), 'You are in the waiting room');
  await plain.getByRole('button', { name: 'Leave the waiting room' }).click();
  await plain.getByTestId('left-title').waitFor();
  await plainContext.close();

  // With JavaScript, the join is sent in the background; if the link was
  // replaced meanwhile, the patient lands on the plain dead-link page.
  const link = await bookAsDoctor(doctor, 'Late Patient', 'en');
  const patientContext = await browser.newContext();
  const patient = await patientContext.newPage();
  await patient.goto(link);
  await hydrated(patient);
  await doctor.goto(`${visita.url}/`);
  await hydrated(doctor);
  await doctor
    .locator('li.day-line[data-patient="Late Patient"]')
    .getByRole('button', { name: 'New link for the patient' })
    .click();
  await doctor.getByTestId('reissued-link').waitFor();
  await patient.getByRole('button', { name: 'Join the waiting room' }).click();
  await patient.getByTestId('dead-link').waitFor({ timeout: 10_000 });
  assert.match(new URL(patient.url()).pathname, /^\/j\//, 'still on the link, not in a room');
  await patientContext.close();
  await doctorContext.close();
});
