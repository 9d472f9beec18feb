// Password guessing is slowed down: twenty quick wrong sign-ins get a plain
// "too many attempts" message, and even the right password waits.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN, launchBrowser, signIn, startVisita } from './support.mjs';

let visita;
let browser;

before(async () => {
  visita = await startVisita();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
});

test('twenty quick wrong sign-ins get the rate-limit message', async () => {
  const page = await browser.newPage();
  const statuses = [];
  for (let i = 0; i < 20; i++) {
    const response = await signIn(page, visita.url, { email: ADMIN.email, password: `guess number ${i} wrong` });
    statuses.push(response.status());
  }
  assert.equal(statuses[0], 401, 'the first wrong password is just wrong');
  assert.ok(statuses.includes(429), `some attempts must be refused with 429, got ${statuses}`);
  assert.equal(statuses.at(-1), 429);
  const alert = page.getByRole('alert');
  assert.match(await alert.innerText(), /^Too many failed attempts\. Wait \d+ minute\(s\), then try again\.$/);

  // The right password does not get through while the account is paused.
  const right = await signIn(page, visita.url, ADMIN);
  assert.equal(right.status(), 429);
  await page.close();
});
