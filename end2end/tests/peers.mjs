// The real protocol peers the messaging tests talk to: an SMTP server
// (aiosmtpd, from the pinned virtualenv scripts/install-tools.sh makes) that
// keeps what it receives in a Maildir, a MIME reader (Python's `email`
// package), and an HTTP server that answers like Twilio's Messages API.

import { execFileSync, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './support.mjs';

const TOOLS = process.env.VISITA_TOOLS ?? join(homedir(), '.cache/visita/tools');
export const PYTHON = process.env.VISITA_TEST_PYTHON ?? join(TOOLS, 'python/bin/python');

/**
 * A hospital's own authority (`ca`) and the certificate it signed for
 * 127.0.0.1 (`cert`, `key`), as PEM files in a new folder (openssl).
 */
export async function makeCertificate() {
  const dir = await mkdtemp(join(tmpdir(), 'visita-cert-'));
  const path = (name) => join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', path('ca-key.pem'), '-out', path('ca.pem'), '-days', '2',
    '-subj', '/CN=Visita test authority', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign');
  openssl('req', ...ec, '-keyout', path('key.pem'), '-out', path('server.csr'), '-subj', '/CN=127.0.0.1');
  await writeFile(path('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca-key.pem'),
    '-CAcreateserial', '-out', path('cert.pem'), '-days', '2', '-extfile', path('server.ext'));
  return { ca: path('ca.pem'), cert: path('cert.pem'), key: path('key.pem'), dir };
}

/**
 * aiosmtpd on a free loopback port; `messages()` lists the Maildir's files.
 * `tls`: `{ mode: 'starttls' | 'smtps', cert, key }` — with STARTTLS,
 * aiosmtpd refuses mail before the client has switched to TLS.
 */
export async function startSmtp({ tls } = {}) {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'visita-smtp-'));
  const tlsArgs = !tls
    ? []
    : tls.mode === 'smtps'
      ? ['--smtpscert', tls.cert, '--smtpskey', tls.key]
      : ['--tlscert', tls.cert, '--tlskey', tls.key];
  const child = spawn(
    PYTHON,
    ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, ...tlsArgs, '-c', 'aiosmtpd.handlers.Mailbox', join(dir, 'Maildir')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  // Ready when it accepts a connection.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`aiosmtpd exited:\n${output}`);
    const ok = await new Promise((resolve) => {
      import('node:net').then(({ connect }) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`aiosmtpd did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const newDir = join(dir, 'Maildir', 'new');
  return {
    port,
    output: () => output,
    /** Paths of the messages received so far. */
    async messages() {
      try {
        return (await readdir(newDir)).sort().map((f) => join(newDir, f));
      } catch {
        return [];
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const PARSE_MIME = `
import email, json, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
parts = {}
for part in m.walk():
    if part.is_multipart():
        continue
    parts[part.get_content_type()] = part.get_content()
print(json.dumps({
    'from': str(m['From']), 'to': str(m['To']), 'replyTo': str(m['Reply-To']),
    'subject': str(m['Subject']), 'messageId': str(m['Message-ID']),
    'contentType': m.get_content_type(), 'parts': parts,
    'calendarName': next((p.get_filename() for p in m.walk() if p.get_content_type() == 'text/calendar'), None),
}))
`;

/** The message at `path`, parsed by Python's email package. */
export function parseMime(path) {
  return JSON.parse(execFileSync(PYTHON, ['-c', PARSE_MIME, path], { encoding: 'utf8' }));
}

/**
 * An HTTP server that answers like Twilio's Messages API: 201 with the new
 * message's SID, or, for a number in `refuse`, Twilio's 400 error body
 * (code 21211, invalid 'To' number).
 */
export async function startFakeTwilio({ accountSid, authToken, refuse = [] }) {
  const requests = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      requests.push({ method: req.method, path: req.url, auth: req.headers.authorization, form });
      const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end(JSON.stringify({ code: 20003, message: 'Authenticate', status: 401 }));
        return;
      }
      if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${accountSid}/Messages.json`) {
        res.writeHead(404).end(JSON.stringify({ code: 20404, message: 'The requested resource was not found', status: 404 }));
        return;
      }
      if (refuse.includes(form.To)) {
        res.writeHead(400).end(
          JSON.stringify({
            code: 21211,
            message: `The 'To' number ${form.To} is not a valid phone number.`,
            more_info: 'https://www.twilio.com/docs/errors/21211',
            status: 400,
          }),
        );
        return;
      }
      const sid = `SM${randomBytes(16).toString('hex')}`;
      requests[requests.length - 1].sid = sid;
      res.writeHead(201).end(
        JSON.stringify({
          sid,
          account_sid: accountSid,
          to: form.To,
          from: form.From,
          body: form.Body,
          status: 'queued',
          num_segments: '1',
          direction: 'outbound-api',
          api_version: '2010-04-01',
          uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
        }),
      );
    });
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Twilio's X-Twilio-Signature for a POST of `params` to `url`. */
export function twilioSignature(authToken, url, params) {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  return createHmac('sha1', authToken).update(data).digest('base64');
}

/** Polls `check` until it returns something truthy (or fails after `ms`). */
export async function eventually(check, ms = 15_000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
