/**
 * The GitHub Action's script (ci/github/webex-token-action.sh) against a loopback service that
 * serves a stand-in CLI and its SHA-256: download and check, the exchange, the first-run
 * fallback to an approval, masking before anything else, and what reaches later steps. Then
 * the same script with the real one-file CLI against a loopback stand-in for the service's
 * workload-identity contract and GitHub's ID-token endpoint.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { bundleCli } from '../../src/cli/bundle';
import {
  GITHUB_SUB,
  GRANT_SCOPES,
  JWT_TYPE,
  TOKEN_EXCHANGE,
  WorkloadServer,
} from './workload-server';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'ci', 'github', 'webex-token-action.sh');
const SCRIPT_TEXT = fs.readFileSync(SCRIPT, 'utf8');

/** Stands in for /cli/webex-token.js: logs its call, exits as told, writes a token response. */
const FAKE_CLI = `
const fs = require('fs');
const [cmd, ...rest] = process.argv.slice(2);
const out = rest[rest.indexOf('--output') + 1];
fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify({
  cmd, args: rest, audience: process.env.WEBEX_TOKEN_AUDIENCE,
  server: process.env.WEBEX_TOKEN_SERVER, scope: process.env.WEBEX_TOKEN_SCOPE,
}) + '\\n');
const code = Number(process.env['FAKE_' + cmd.toUpperCase() + '_EXIT'] || 0);
if (code) { console.error('webex-token: no grant is bound to this job'); process.exit(code); }
const body = { access_token: 'AT-' + cmd + '-0123456789', token_type: 'Bearer', expires_in: 1209600,
  expires_at: '2026-12-15T12:00:00.000Z', scope: 'spark-admin:people_read' };
if (cmd === 'login') Object.assign(body, { refresh_token: 'RT-secret-9876543210', refresh_token_expires_in: 7776000 });
fs.writeFileSync(out, JSON.stringify(body), { mode: 0o600 });
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  calls: { cmd: string; args: string[]; audience: string; server: string; scope?: string }[];
  outputs: string;
  env: string;
  leftovers: string[];
}

describe('the GitHub Action script', () => {
  let server: http.Server;
  let base = '';
  let published = crypto.createHash('sha256').update(FAKE_CLI).digest('hex');
  let downloads = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/cli/webex-token.js') {
        downloads += 1;
        res.writeHead(200, { 'content-type': 'application/javascript' }).end(FAKE_CLI);
      } else if (req.url === '/.well-known/oauth-authorization-server') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ issuer: base, webex_scoped_tokens: { cli_sha256: published } }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function run(
    inputs: Record<string, string>,
    fake: Record<string, string> = {},
  ): Promise<Run> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-action-'));
    const runnerTemp = path.join(dir, 'runner-temp');
    fs.mkdirSync(runnerTemp);
    const files = {
      log: path.join(dir, 'calls.log'),
      output: path.join(dir, 'github-output'),
      env: path.join(dir, 'github-env'),
    };
    for (const f of Object.values(files)) fs.writeFileSync(f, '');
    const child = spawn('bash', [SCRIPT], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        RUNNER_TEMP: runnerTemp,
        GITHUB_OUTPUT: files.output,
        GITHUB_ENV: files.env,
        FAKE_LOG: files.log,
        INPUT_SERVER: base,
        ...inputs,
        ...fake,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const result: Run = {
      code,
      stdout,
      stderr,
      calls: fs
        .readFileSync(files.log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Run['calls'][number]),
      outputs: fs.readFileSync(files.output, 'utf8'),
      env: fs.readFileSync(files.env, 'utf8'),
      // a copy made in this realm: Jest's sandbox would see fs's array as a foreign Array
      leftovers: [...fs.readdirSync(runnerTemp)],
    };
    fs.rmSync(dir, { recursive: true, force: true });
    return result;
  }

  test('a bound job: one exchange, the token masked first, exported, nothing left on disk', async () => {
    const before = downloads;
    const r = await run({ INPUT_SCOPE: 'spark-admin:people_read' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(downloads, before + 1);
    assert.deepEqual(
      r.calls.map((c) => c.cmd),
      ['token'],
    );
    const call = r.calls[0];
    assert.ok(call);
    assert.deepEqual(call.args.slice(0, 4), ['--oidc', 'github', '--format', 'json']);
    assert.equal(call.audience, base, 'the audience defaults to the server URL');
    assert.equal(call.server, base);
    assert.equal(call.scope, 'spark-admin:people_read');
    assert.equal(
      r.stdout.split('\n')[0],
      '::add-mask::AT-token-0123456789',
      'masked before anything else',
    );
    assert.match(r.outputs, /^access-token=AT-token-0123456789$/m);
    assert.match(r.outputs, /^expires-at=2026-12-15T12:00:00.000Z$/m);
    assert.match(r.outputs, /^scope=spark-admin:people_read$/m);
    assert.equal(
      r.env,
      'WEBEX_ACCESS_TOKEN=AT-token-0123456789\nWEBEX_ACCESS_TOKEN_EXPIRES_AT=2026-12-15T12:00:00.000Z\n',
    );
    assert.deepEqual(r.leftovers, [], 'the CLI and the token file are removed');
  });

  test('the first run: no grant yet (exit 4) → asks for approval; the refresh token is masked and dropped', async () => {
    const r = await run({ INPUT_AUDIENCE: 'custom-aud' }, { FAKE_TOKEN_EXIT: '4' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.calls.map((c) => [c.cmd, c.audience]),
      [
        ['token', 'custom-aud'],
        ['login', 'custom-aud'],
      ],
    );
    assert.match(r.stdout, /first run/);
    const masks = r.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'));
    assert.deepEqual(masks, [
      '::add-mask::AT-login-0123456789',
      '::add-mask::RT-secret-9876543210',
    ]);
    assert.equal(r.outputs.includes('RT-secret'), false);
    assert.equal(r.env.includes('RT-secret'), false);
    assert.match(r.env, /^WEBEX_ACCESS_TOKEN=AT-login-0123456789$/m);
  });

  test('any other failure of the exchange stops the step with its exit code and asks no admin', async () => {
    const r = await run({}, { FAKE_TOKEN_EXIT: '5' });
    assert.equal(r.code, 5);
    assert.deepEqual(
      r.calls.map((c) => c.cmd),
      ['token'],
    );
    assert.equal(r.env, '');
  });

  test('mode token never asks for approval; format json gives a json output without refresh token', async () => {
    const t = await run({ INPUT_MODE: 'token' }, { FAKE_TOKEN_EXIT: '4' });
    assert.equal(t.code, 4);
    assert.deepEqual(
      t.calls.map((c) => c.cmd),
      ['token'],
    );
    const j = await run({ INPUT_MODE: 'login', INPUT_FORMAT: 'json' });
    assert.equal(j.code, 0, j.stderr);
    const m = /^json<<(\S+)\n(.*)\n\1$/m.exec(j.outputs);
    assert.ok(m, j.outputs);
    const body = JSON.parse(m[2] as string) as Record<string, unknown>;
    assert.equal(body.access_token, 'AT-login-0123456789');
    assert.equal('refresh_token' in body, false);
    assert.equal(j.env, '', 'format json exports nothing to the environment');
  });

  test('a CLI that does not match the published SHA-256 is never run', async () => {
    published = '0'.repeat(64);
    try {
      const r = await run({});
      assert.equal(r.code, 5);
      assert.match(r.stdout, /::error title=webex-token::the downloaded CLI does not match/);
      assert.deepEqual(r.calls, []);
    } finally {
      published = crypto.createHash('sha256').update(FAKE_CLI).digest('hex');
    }
  });

  test('action.yml hands every input to the script through the environment, never inline', () => {
    const yml = fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8');
    const inputsBlock = /^inputs:\n([\s\S]*?)^\S/m.exec(yml)?.[1] ?? '';
    const inputs = [...inputsBlock.matchAll(/^ {2}([a-z-]+):$/gm)].map((m) => m[1] as string);
    assert.ok(inputs.includes('server') && inputs.includes('format'), inputs.join(' '));
    for (const name of inputs.filter((n) => n !== 'node-version')) {
      const env = `INPUT_${name.toUpperCase().replace(/-/g, '_')}`;
      assert.ok(yml.includes(`${env}: \${{ inputs.${name} }}`), `${name} reaches ${env}`);
      assert.ok(SCRIPT_TEXT.includes(env), `the script reads ${env}`);
    }
    const run = /run: (.*)$/m.exec(yml)?.[1] ?? '';
    assert.equal(run.includes('${{'), false, 'no expression is expanded into the shell');
  });

  test('bad inputs are refused before any download: plain http off loopback, unknown format', async () => {
    const before = downloads;
    const r = await run({ INPUT_SERVER: 'http://tokens.example.com' });
    assert.equal(r.code, 2);
    assert.match(r.stdout, /must be an https:\/\/ URL/);
    const f = await run({ INPUT_FORMAT: 'yaml' });
    assert.equal(f.code, 2);
    assert.match(f.stdout, /format must be env, token or json/);
    assert.equal(downloads, before);
  });
});

describe('the GitHub Action script with the real one-file CLI', () => {
  const service = new WorkloadServer();
  let cliFile: Buffer;

  beforeAll(async () => {
    cliFile = await bundleCli();
    service.serveCli(cliFile);
    await service.start();
  });

  afterAll(() => service.stop());

  async function runAction(): Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
    env: string;
  }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-action-real-'));
    const files = { output: path.join(dir, 'out'), env: path.join(dir, 'env') };
    for (const f of Object.values(files)) fs.writeFileSync(f, '');
    const child = spawn('bash', [SCRIPT], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        RUNNER_TEMP: dir,
        GITHUB_OUTPUT: files.output,
        GITHUB_ENV: files.env,
        INPUT_SERVER: service.base,
        INPUT_SCOPE: GRANT_SCOPES.join(' '),
        INPUT_TIMEOUT: '30s',
        ...service.githubEnv,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const env = fs.readFileSync(files.env, 'utf8');
    fs.rmSync(dir, { recursive: true, force: true });
    return { code, stdout, stderr, env };
  }

  test('auto mode: the first run falls back from exit 4 to login --oidc; the next run only exchanges', async () => {
    const first = await runAction();
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /token exchange refused \(No grant is bound to this job\.\)/);
    assert.match(first.stdout, /first run/);
    assert.match(first.stderr, /It carries this job's GitHub ID token/);
    assert.deepEqual(
      service.posts.map((p) => p.params.grant_type ?? p.path),
      [
        TOKEN_EXCHANGE,
        '/oauth2/device_authorization',
        'urn:ietf:params:oauth:grant-type:device_code',
      ],
    );
    const authorize = service.posts[1];
    assert.equal(authorize?.params.subject_token_type, JWT_TYPE);
    assert.ok(service.bound.has(GITHUB_SUB));
    assert.match(first.env, /^WEBEX_ACCESS_TOKEN=AT-login$/m);
    assert.match(first.stdout, /^::add-mask::AT-login$/m);
    assert.match(first.stdout, /^::add-mask::wst_rt_login$/m);

    service.posts.length = 0;
    const later = await runAction();
    assert.equal(later.code, 0, later.stderr);
    assert.deepEqual(
      service.posts.map((p) => p.params.grant_type),
      [TOKEN_EXCHANGE],
    );
    assert.equal(later.stdout.split('\n')[0], '::add-mask::AT-exchanged');
    assert.match(later.env, /^WEBEX_ACCESS_TOKEN=AT-exchanged$/m);
  });
});
