// Sign-in through SAML 2.0 in Chromium, against a real identity provider
// (pysaml2, signing with xmlsec1; end2end/saml/idp.py). Visita reads the
// provider's metadata by URL, sends an HTTP-Redirect AuthnRequest and takes
// the signed answer by HTTP-POST: the doctor lands on the dashboard as a
// doctor. Refused, each with a plain page and an audit event: an unsigned
// answer, one signed by another key, an expired one, a replayed one, a
// person outside the groups, the signature-wrapping responses that ship
// with samael, and (at start) metadata without a signing key.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PYTHON, eventually } from './peers.mjs';
import { ADMIN, freePort, launchBrowser, signIn, startVisita } from './support.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const LABEL = 'Hospital sign-in (SAML)';

let idp;
let idpDir;
let visita;
let browser;

before(async () => {
  const port = await freePort();
  const visitaUrl = `http://127.0.0.1:${port}`;
  const idpPort = await freePort();
  idpDir = await mkdtemp(join(tmpdir(), 'visita-idp-'));
  const child = spawn(PYTHON, [join(HERE, '../saml/idp.py'), String(idpPort), idpDir, `${visitaUrl}/auth/saml/metadata`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  await eventually(() => output.includes('SAML identity provider on'), 30_000, `the identity provider:\n${output}`);
  idp = { child, url: `http://127.0.0.1:${idpPort}`, output: () => output };
  visita = await startVisita({
    port,
    env: {
      VISITA_SAML_IDP_METADATA_URL: `${idp.url}/metadata`,
      VISITA_SAML_LABEL: LABEL,
      VISITA_SAML_ROLE_MAP: 'visita-doctors=doctor',
      VISITA_SAML_CREATE_ACCOUNTS: 'true',
    },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await visita?.stop();
  idp?.child.kill();
  if (idpDir) await rm(idpDir, { recursive: true, force: true });
});

/** From the sign-in page to the provider's answer page, as `user` answered in `mode`. */
async function answerPage(user, mode = 'normal') {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${visita.url}/login`);
  await page.getByRole('link', { name: LABEL }).click();
  await page.waitForURL(new RegExp(`^${idp.url}/sso\\?SAMLRequest=`));
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Answer').selectOption(mode);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Continue' }).waitFor();
  return page;
}

/** Sends the answer on the page to Visita; resolves with the ACS's status. */
async function send(page) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${visita.url}/auth/saml/acs`),
    page.getByRole('button', { name: 'Continue' }).click(),
  ]);
  return response.status();
}

/** Posts a SAMLResponse to the ACS as a browser form would (cross-site). */
async function post(url, samlResponse) {
  return fetch(`${url}/auth/saml/acs`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
    body: new URLSearchParams({ SAMLResponse: samlResponse }),
    redirect: 'manual',
  });
}

test("Visita's metadata names its entity and where answers go", async () => {
  const response = await fetch(`${visita.url}/auth/saml/metadata`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /samlmetadata\+xml/);
  const xml = await response.text();
  assert.match(xml, new RegExp(`entityID="${visita.url}/auth/saml/metadata"`));
  assert.match(xml, new RegExp(`Location="${visita.url}/auth/saml/acs"`));
});

let replayable;

test('a doctor signs in through the identity provider and lands on the dashboard as a doctor', async () => {
  const page = await answerPage('sam');
  replayable = await page.locator('input[name="SAMLResponse"]').getAttribute('value');
  const xml = Buffer.from(replayable, 'base64').toString();
  assert.match(xml, /xmldsig-more#rsa-sha256/, 'signed with RSA-SHA256');
  assert.equal(await send(page), 303);
  await page.waitForURL(`${visita.url}/`);
  const top = await page.locator('header.topbar').innerText();
  assert.match(top, /Dr Sam Saml/);
  assert.match(top, /doctor/i);
  await page.context().close();
});

test('the same answer a second time is refused', async () => {
  assert.ok(replayable, 'the sign-in test kept an answer');
  const response = await post(visita.url, replayable);
  assert.equal(response.status, 401);
  assert.match(await response.text(), /already used/);
});

for (const [mode, status, words] of [
  ['unsigned', 401, /is not signed/],
  ['other_key', 401, /not signed by the sign-in service Visita knows/],
  ['expired', 401, /has expired/],
  ['sha1', 401, /algorithm Visita does not accept/],
]) {
  test(`an answer that is ${mode.replace('_', ' ')} is refused`, async () => {
    const page = await answerPage('sam', mode);
    assert.equal(await send(page), status);
    assert.match(await page.getByTestId('sign-in-refused').innerText(), words);
    await page.goto(`${visita.url}/`);
    await page.waitForURL(/\/login/);
    await page.context().close();
  });
}

test('someone outside the allowed groups is refused', async () => {
  const page = await answerPage('sally');
  assert.equal(await send(page), 403);
  assert.match(await page.getByTestId('sign-in-refused').innerText(), /no role in Visita/);
  await page.context().close();
});

test('a response larger than the cap is refused before it is read', async () => {
  const response = await post(visita.url, 'A'.repeat(300 * 1024));
  assert.equal(response.status, 413);
});

test('the audit log shows each SAML refusal with its reason', async () => {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, visita.url, ADMIN);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/admin/audit?action=login.saml`);
  const text = await page.getByTestId('audit-events').innerText();
  assert.match(text, /login\.saml\s+ok\s+sam\.saml@clinic\.test/);
  for (const code of ['unknown_request', 'unsigned', 'bad_signature', 'expired', 'weak_algorithm', 'no_role', 'too_large']) {
    assert.match(text, new RegExp(`login\\.saml\\s+denied.*${code}`), code);
  }
  await page.context().close();
});

/** samael's own test vectors, from the crate cargo downloaded. */
function samaelVectors() {
  const registry = join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'registry', 'src');
  for (const index of readdirSync(registry)) {
    const dir = join(registry, index, 'samael-0.0.22', 'test_vectors');
    if (existsSync(dir)) return dir;
  }
  throw new Error(`samael 0.0.22's sources are not under ${registry} (build the server first)`);
}

test("the signature-wrapping responses that ship with samael are refused", async () => {
  const vectors = samaelVectors();
  // A server that trusts the key those responses were made with, and takes
  // unsolicited answers: nothing but the signature stands in the way.
  const wrapped = await startVisita({
    env: {
      VISITA_SAML_IDP_METADATA_FILE: join(vectors, 'idp_2_metadata.xml'),
      VISITA_SAML_ALLOW_IDP_INITIATED: 'true',
      VISITA_SAML_DEFAULT_ROLES: 'admin',
      VISITA_SAML_CREATE_ACCOUNTS: 'true',
    },
  });
  try {
    for (const name of ['xpointer_attack_signed.xml', 'ancestor_attack_signed.xml', 'object_attack_response.xml',
      'multi_saml_response_signed.xml', 'multi_saml_response_signed_2.xml']) {
      const xml = readFileSync(join(vectors, name));
      const response = await post(wrapped.url, xml.toString('base64'));
      assert.equal(response.status, 401, name);
      assert.equal(response.headers.get('set-cookie'), null, `${name} opened no session`);
    }
  } finally {
    await wrapped.stop();
  }
});

test('metadata without a signing key stops the server at start, saying why', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'visita-md-'));
  const file = join(dir, 'idp.xml');
  await writeFile(file, `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`);
  await assert.rejects(startVisita({ env: { VISITA_SAML_IDP_METADATA_FILE: file } }), /no signing key/);
  await rm(dir, { recursive: true, force: true });
});

test('an administrator tries the SAML provider from the console', async () => {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, visita.url, ADMIN);
  await page.waitForURL(`${visita.url}/`);
  await page.goto(`${visita.url}/admin/sign-in`);
  const card = page.getByTestId('sign-in-method').filter({ hasText: 'SAML 2.0' });
  await card.getByRole('link', { name: 'Try sign-in' }).click();
  await page.getByLabel('User').fill('sam');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  const report = await page.getByTestId('try-report').innerText();
  assert.match(report, /In Visita\s+signs in as doctor/);
  assert.match(report, /attribute urn:mace:dir:attribute-def:mail\s+Sam\.Saml@clinic\.test/);
  await page.goto(`${visita.url}/`);
  assert.match(await page.locator('header.topbar').innerText(), /admin/i, 'still the administrator');
  await page.context().close();
});
