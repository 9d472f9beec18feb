// schemathesis (pinned, from PyPI) against the REST API's own OpenAPI
// document: at least 1 000 generated requests, valid and not, with a real
// key; none may get a 5xx, an undocumented status or content type, or a
// body that breaks the documented schema.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createStaff, runVisita, startVisita } from './support.mjs';
import { PYTHON } from './peers.mjs';

test('schemathesis finds no server error and no answer outside the schema', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'visita-schema-'));
  const work = await mkdtemp(join(tmpdir(), 'visita-schemathesis-'));
  let visita;
  try {
    const made = runVisita(
      ['admin', 'create-api-key', '--name', 'schemathesis', '--scopes', 'consultations:read,consultations:write,webhooks:manage',
        '--requests-per-minute', '100000'],
      { dataDir },
    );
    assert.equal(made.status, 0, made.stderr);
    const key = made.stdout.trimEnd().split('\n').at(-1);
    visita = await startVisita({ dataDir });
    // The clinician of the document's example, so valid bookings go through.
    await createStaff(visita.url, {
      email: 'dr.martin@hospital.example', name: 'Claire Martin', role: 'doctor', password: 'doctor password 12345',
    });
    const checks = [
      'not_a_server_error',
      'status_code_conformance',
      'content_type_conformance',
      'response_schema_conformance',
      'response_headers_conformance',
    ].join(',');
    const run = await promisify(execFile)(
      join(dirname(PYTHON), 'schemathesis'),
      ['run', `${visita.url}/api/v1/openapi.json`, '-H', `Authorization: Bearer ${key}`, '-c', checks,
        '-n', '300', '--seed', '20261201', '--no-color'],
      { cwd: work, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_HOOKS: '' } },
    ).catch((error) => error);
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
    assert.ok(!run.code, `schemathesis failed:\n${output}`);
    const cases = output.match(/(\d+) generated, (\d+) passed/);
    assert.ok(cases, output);
    assert.ok(Number(cases[1]) >= 1000, `only ${cases[1]} cases:\n${output}`);
    assert.equal(cases[1], cases[2], output);
    // Some of them booked for real: the examples reached the core.
    const list = await fetch(`${visita.url}/api/v1/consultations?limit=1`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal((await list.json()).items.length, 1, 'at least one consultation was booked');
  } finally {
    await visita?.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
});
