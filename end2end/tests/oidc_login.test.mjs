// Sign-in through OpenID Connect in Chromium, against two real providers
// (node-oidc-provider on loopback, PKCE required): a doctor with no Visita
// account yet signs in with the hospital's provider and lands on the
// dashboard as a doctor (account made from their groups); signing out signs
// out at the provider too. Someone outside the allowed groups, an answer
// whose state was changed, and an ID token made for another nonce are each
// refused with a plain page, and every refusal is in the audit log.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { signInAtProvider, startOidcProvider } from '../oidc/provider.mjs';
import { ADMIN, freePort, launchBrowser, seriousFaults, signIn, startVisita } from './support.mjs';

let visita;
let browser;
let hospital;
let partner;

before(async () => {
  const port = await freePort();
  const visitaUrl = `http://127.0.0.1:${port}`;
  hospital = await startOidcProvider({
    visitaUrl,
    id: 'hospital',
    clientId: 'visita',
    clientSecret: 'hospital client secret for visita',
    accounts: {
      'olivia': { email: 'Olivia.Connect@clinic.test', email_verified: true, name: 'Dr Olivia Connect', groups: ['visita-doctors', 'cardio'] },
      'oscar': { email: 'oscar@clinic.test', email_verified: true, name: 'Oscar Outside', groups: ['visitors'] },
    },
  });
  partner = await startOidcProvider({
    visitaUrl,
    id: 'partner',
    clientId: 'visita-at-partner',
    clientSecret: 'partner client secret for visita',
    accounts: {},
  });
  visita = await startVisita({
    port,
    env: {
      VISITA_OIDC_PROVIDERS: 'hospital,partner',
      VISITA_OIDC_HOSPITAL_LABEL: 'Hospital account',
      VISITA_OIDC_HOSPITAL_ISSUER: hospital.issuer,
      VISITA_OIDC_HOSPITAL_CLIENT_ID: 'visita',
      VISITA_OIDC_HOSPITAL_CLIENT_SECRET: 'hospital client secret for visita',
      VISITA_OIDC_HOSPITAL_SCOPES: 'email profile groups',
      VISITA_OIDC_HOSPITAL_ROLE_MAP: 'visita-doctors=doctor; visita-admins=admin',
      VISITA_OIDC_HOSPITAL_CREATE_ACCOUNTS: 'true',
      VISITA_OIDC_PARTNER_LABEL: 'Partner clinic',
      VISITA_OIDC_PARTNER_ISSUER: partner.issuer,
      VISITA_OIDC_PARTNER_CLIENT_ID: 'visita-at-partner',
      VISITA_OIDC_PARTNER_CLIENT_SECRET: 'partner client secret for visita',
    },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  await hospital?.close();
  await partner?.close();
});

/** Opens the sign-in page and follows the hospital's button to its login page. */
async function startAtHospital(page) {
  await page.goto(`${visita.url}/login`);
  await page.getByRole('link', { name: 'Hospital account' }).click();
  await page.waitForURL(new RegExp(`^${hospital.issuer}/`));
}

test('the sign-in page offers each provider', async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${visita.url}/login`);
  const buttons = page.getByTestId('sign-in-providers').getByRole('link');
  assert.deepEqual(await buttons.allInnerTexts(), ['Hospital account', 'Partner clinic']);
  assert.equal(await buttons.first().getAttribute('href'), '/auth/oidc/hospital');
  // The password form is still there.
  assert.equal(await page.getByLabel('Email address').count(), 1);
  assert.deepEqual(await seriousFaults(page), [], 'the sign-in page has no serious accessibility fault');
  await page.context().close();
});

test('a doctor signs in with the hospital provider, gets an account from their groups, and signs out there too', async () => {
  const page = await (await browser.newContext()).newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await startAtHospital(page);
  const authorize = new URL(requests.find((u) => u.startsWith(`${hospital.issuer}/auth?`)));
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(authorize.searchParams.get('nonce')?.length >= 16);
  assert.ok(authorize.searchParams.get('state')?.length >= 16);
  await signInAtProvider(page, 'olivia');
  await page.waitForURL(`${visita.url}/`);
  const top = await page.locator('header.topbar').innerText();
  assert.match(top, /Dr Olivia Connect/);
  assert.match(top, /doctor/i);
  assert.doesNotMatch(top, /Users/, 'a doctor has no admin menu');

  // Signing out goes through the provider's own sign-out, then back here.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(new RegExp(`^${hospital.issuer}/session/end`));
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL(`${visita.url}/login`);
  await page.goto(`${visita.url}/`);
  await page.waitForURL(/\/login/);
  await page.context().close();
});

test('someone outside the allowed groups is refused', async () => {
  const page = await (await browser.newContext()).newPage();
  await startAtHospital(page);
  await signInAtProvider(page, 'oscar');
  await page.waitForURL(/\/auth\/oidc\/hospital\/callback/).catch(async (e) => { console.log("DEBUG", page.url(), (await page.content()).slice(0, 1500)); throw e; });
  assert.match(await page.getByTestId('sign-in-refused').innerText(), /no role in Visita/);
  await page.goto(`${visita.url}/`);
  await page.waitForURL(/\/login/);
  await page.context().close();
});

/**
 * Starts a sign-in whose request to the provider has `name` replaced, as an
 * attacker in the middle or a forged link would: the browser's own start
 * (its cookie kept by the context), then the provider with the changed URL.
 */
async function tampered(name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const start = await context.request.get(`${visita.url}/auth/oidc/hospital`, { maxRedirects: 0 });
  assert.equal(start.status(), 303);
  const url = new URL(start.headers().location);
  url.searchParams.set(name, `forged-${name}-0123456789abcdef`);
  const callbacks = [];
  page.on('response', (r) => {
    if (r.url().includes('/auth/oidc/hospital/callback')) callbacks.push(r.status());
  });
  await page.goto(url.toString());
  await signInAtProvider(page, 'olivia');
  await page.waitForURL(/\/auth\/oidc\/hospital\/callback/);
  await page.getByTestId('sign-in-refused').waitFor();
  return { page, status: callbacks[0] };
}

test('an answer whose state was changed is refused', async () => {
  const { page, status } = await tampered('state');
  assert.equal(status, 401);
  assert.match(await page.getByTestId('sign-in-refused').innerText(), /does not belong to the sign-in this browser started/);
  await page.goto(`${visita.url}/`);
  await page.waitForURL(/\/login/);
  await page.context().close();
});

test('an ID token made for another nonce is refused', async () => {
  const { page, status } = await tampered('nonce');
  assert.equal(status, 401);
  assert.match(await page.getByTestId('sign-in-refused').innerText(), /not made for this sign-in/);
  await page.context().close();
});

test('an answer nobody asked for (no sign-in under way in this browser) is refused', async () => {
  const page = await (await browser.newContext()).newPage();
  const response = await page.goto(`${visita.url}/auth/oidc/hospital/callback?code=abc&state=def`);
  assert.equal(response.status(), 401);
  assert.match(await page.getByTestId('sign-in-refused').innerText(), /took too long or was already finished/);
  const unknown = await page.goto(`${visita.url}/auth/oidc/nowhere`);
  assert.equal(unknown.status(), 404);
  await page.context().close();
});

test('the audit log shows every sign-in through a provider, refused ones included', async () => {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, visita.url, ADMIN);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/admin/audit?action=login.oidc`);
  const rows = page.getByTestId('audit-events').locator('tbody tr');
  const text = (await rows.allInnerTexts()).join('\n');
  assert.match(text, /login\.oidc\s+ok\s+olivia\.connect@clinic\.test\s+oidc:hospital olivia\.connect@clinic\.test/);
  for (const code of ['no_role', 'wrong_state', 'wrong_nonce', 'no_pending_sign_in']) {
    assert.match(text, new RegExp(`login\\.oidc\\s+denied.*${code}`), code);
  }
  // The account was made from the provider's groups, as a doctor.
  await page.goto(`${visita.url}/admin/audit?action=user.create`);
  assert.match(await page.getByTestId('audit-events').innerText(), /olivia\.connect@clinic\.test doctor from oidc:hospital/);
  // The filter is plain: only refusals.
  await page.goto(`${visita.url}/admin/audit?action=login&outcome=denied`);
  const outcomes = await page.getByTestId('audit-events').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.outcome));
  assert.ok(outcomes.length >= 4);
  assert.ok(outcomes.every((o) => o === 'denied'));
  await page.context().close();
});

test('an administrator tries a provider from the console: what it sent and the role it gives, nobody signed in', async () => {
  const anonymous = await (await browser.newContext()).newPage();
  const refused = await anonymous.goto(`${visita.url}/auth/oidc/hospital?try=1`);
  assert.equal(refused.status(), 403);
  await anonymous.context().close();

  const page = await (await browser.newContext()).newPage();
  await signIn(page, visita.url, ADMIN);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/admin/sign-in`);
  const cards = page.getByTestId('sign-in-method');
  assert.deepEqual(await cards.evaluateAll((els) => els.map((e) => e.dataset.kind)), ['Password', 'OpenID Connect', 'OpenID Connect']);
  assert.deepEqual(await seriousFaults(page), [], 'the sign-in methods page has no serious accessibility fault');
  const hospitalCard = cards.filter({ hasText: 'hospital' });
  assert.match(await hospitalCard.innerText(), /visita-doctors → doctor/);
  assert.match(await hospitalCard.innerText(), new RegExp(`${visita.url}/auth/oidc/hospital/callback`));
  await hospitalCard.getByRole('link', { name: 'Try sign-in' }).click();
  await page.waitForURL(new RegExp(`^${hospital.issuer}/`));
  await signInAtProvider(page, 'olivia');
  await page.waitForURL(/\/auth\/oidc\/hospital\/callback/);
  const report = await page.getByTestId('try-report').innerText();
  assert.match(report, /In Visita\s+signs in as doctor/);
  assert.match(report, /claim groups\s+\["visita-doctors","cardio"\]/);
  // Still the administrator: nobody else was signed in.
  await page.goto(`${visita.url}/admin/audit?action=sso.try`);
  assert.match(await page.getByTestId('audit-events').innerText(), /sso\.try\s+ok\s+admin@clinic\.test\s+oidc:hospital/);
  await page.context().close();
});
