/**
 * Issue 13, "a CI job needs only Node.js and the service's URL": the service serves the CLI as
 * one dependency-free file with its SHA-256 in the metadata and on the home page; the file runs
 * alone in an empty folder through a full approval. Also: without --scope a dynamic-mode server
 * gets a plain "add --scope" from the CLI, and a service without the file says what to do.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { approveHandoff, openApproval } from '../helpers/admin';
import { startTestServer, type TestServer } from '../helpers/server';
import { startCli } from './spawn';

const SCOPE = 'spark-admin:people_read';

let srv: TestServer;
let dir: string;
beforeAll(async () => {
  srv = await startTestServer({
    store: 'memory',
    env: { DEVICE_POLL_INTERVAL_SECONDS: '1', RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000' },
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webex-token-one-file-'));
});
afterAll(async () => {
  await srv?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Downloads the file as the README's one-liner does, into the empty folder. */
async function download(): Promise<{ file: string; sha256: string; res: Response }> {
  const res = await fetch(`${srv.url}/cli/webex-token.js`, { redirect: 'manual' });
  const body = Buffer.from(await res.arrayBuffer());
  const file = path.join(dir, 'webex-token.js');
  fs.writeFileSync(file, body);
  return { file, sha256: crypto.hash('sha256', body, 'hex'), res };
}

describe('GET /cli/webex-token.js', () => {
  test('200 application/javascript, no redirect; its SHA-256 is in the metadata and on the home page', async () => {
    const { res, sha256, file } = await download();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/javascript/);
    const meta = (await (
      await fetch(`${srv.url}/.well-known/oauth-authorization-server`)
    ).json()) as { webex_scoped_tokens: Record<string, unknown> };
    assert.match(String(meta.webex_scoped_tokens.cli_sha256), /^[0-9a-f]{64}$/);
    assert.equal(meta.webex_scoped_tokens.cli_sha256, sha256);
    assert.equal(meta.webex_scoped_tokens.cli_url, `${srv.url}/cli/webex-token.js`);
    const home = await (await fetch(`${srv.url}/`)).text();
    assert.ok(home.includes(sha256), 'the home page shows the checksum');
    assert.ok(
      home.includes(`curl -fsSLo webex-token.js &quot;${srv.url}/cli/webex-token.js&quot;`),
      'the home page shows the one-liner',
    );
    // Dependency-free: nothing but Node built-ins is required.
    const required = [...fs.readFileSync(file, 'utf8').matchAll(/\brequire\("([^"]+)"\)/g)].map(
      (m) => m[1]!,
    );
    assert.ok(required.length > 0);
    for (const name of required) assert.match(name, /^node:/, `requires only built-ins: ${name}`);
  });

  test('runs alone in an empty folder (no node_modules) through a full approval, and names the approver', async () => {
    const { file } = await download();
    // a copy made in this realm: Jest's sandbox would see fs's array as a foreign Array
    assert.deepEqual([...fs.readdirSync(dir)], ['webex-token.js']);
    const cli = startCli(['login', '--server', srv.url, '--scope', SCOPE, '--format', 'json'], {
      script: file,
      cwd: dir,
    });
    const code = await cli.userCode();
    const approved = await approveHandoff(srv.url, code);
    assert.equal(approved.status, 200);
    const { code: exit } = await cli.exit();
    assert.equal(exit, 0, cli.stderr());
    const tokens = JSON.parse(cli.stdout()) as Record<string, unknown>;
    assert.match(String(tokens.access_token), /^SBX_AT_/);
    assert.equal(tokens.scope, SCOPE);
    assert.equal(tokens.webex_scoped_tokens, undefined, 'the approver stays out of the tokens');
    assert.match(cli.stderr(), /approved by Ada Admin <ada\.admin@sandbox\.example>/);
  });

  test('without --scope against a dynamic-mode server: "add --scope" in plain words, exit 2, no request made', async () => {
    const { file } = await download();
    const cli = startCli(['login', '--server', srv.url], { script: file, cwd: dir });
    const { code } = await cli.exit();
    assert.equal(code, 2);
    assert.match(cli.stderr(), /no scope given.*add --scope "spark:people_read"/);
    assert.doesNotMatch(cli.stderr(), /Code:/, 'no handoff was started');
  });
});

describe('a service without the file', () => {
  test('answers 404 saying to run npm run build; the metadata has no checksum', async () => {
    const bare = await startTestServer({
      store: 'memory',
      cliDownload: { get: () => Promise.resolve(null) },
    });
    try {
      const res = await fetch(`${bare.url}/cli/webex-token.js`, {
        headers: { accept: 'application/json' },
      });
      assert.equal(res.status, 404);
      const body = (await res.json()) as Record<string, string>;
      assert.match(body.error_description ?? '', /no one-file CLI/);
      const page = await (await fetch(`${bare.url}/cli/webex-token.js`)).text();
      assert.match(page, /npm run build/);
      const meta = (await (
        await fetch(`${bare.url}/.well-known/oauth-authorization-server`)
      ).json()) as { webex_scoped_tokens: Record<string, unknown> };
      assert.equal(meta.webex_scoped_tokens.cli_sha256, undefined);
      assert.equal(meta.webex_scoped_tokens.cli_url, undefined);
    } finally {
      await bare.close();
    }
  });
});

describe('cancelling when the CLI gives up', () => {
  test('--timeout: exits 4 after cancelling; the code can no longer be approved', async () => {
    const { file } = await download();
    const cli = startCli(
      ['login', '--server', srv.url, '--scope', SCOPE, '--timeout', '1', '--no-qr'],
      { script: file, cwd: dir },
    );
    const userCode = await cli.userCode();
    const { code } = await cli.exit();
    assert.equal(code, 4, cli.stderr());
    assert.match(
      cli.stderr(),
      /cancelled the request on the server; the code .* can no longer be approved/,
    );
    assert.match(cli.stderr(), /timed out waiting for approval/);
    const { page } = await openApproval(srv.url, userCode);
    assert.equal(page.status, 410);
    assert.match(page.body, /The script gave up/);
  });

  test('SIGTERM: exits 143 after cancelling; the code can no longer be approved', async () => {
    const { file } = await download();
    const cli = startCli(['login', '--server', srv.url, '--scope', SCOPE, '--no-qr'], {
      script: file,
      cwd: dir,
    });
    const userCode = await cli.userCode();
    cli.child.kill('SIGTERM');
    const { code } = await cli.exit();
    assert.equal(code, 143, cli.stderr());
    assert.match(cli.stderr(), /cancelled the request on the server/);
    assert.match(cli.stderr(), /stopped \(SIGTERM\); no tokens were written/);
    const { page } = await openApproval(srv.url, userCode);
    assert.equal(page.status, 410);
    assert.match(page.body, /The script gave up/);
  });

  test('Ctrl-C (SIGINT): exits 130 after cancelling', async () => {
    const { file } = await download();
    const cli = startCli(['login', '--server', srv.url, '--scope', SCOPE, '--no-qr'], {
      script: file,
      cwd: dir,
    });
    const userCode = await cli.userCode();
    cli.child.kill('SIGINT');
    const { code } = await cli.exit();
    assert.equal(code, 130, cli.stderr());
    assert.match(cli.stderr(), /cancelled the request on the server/);
    const { page } = await openApproval(srv.url, userCode);
    assert.equal(page.status, 410);
  });
});
