/**
 * `webex-token` as a real subprocess against the real service (sandbox as Webex), with the
 * admin played over HTTP by the test. stdout must carry only the requested token output.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { promisify } from 'node:util';
import { approveHandoff, denyHandoff } from '../helpers/admin';
import { startTestServer, type TestServer } from '../helpers/server';
import { assertBuildNotStale, startCli } from './spawn';

const run = promisify(execFile);
const SCOPE = 'spark-admin:people_read';
const FAST = {
  DEVICE_POLL_INTERVAL_SECONDS: '1',
  RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000',
};

let srv: TestServer;
let tmp: string;

beforeAll(async () => {
  assertBuildNotStale();
  srv = await startTestServer({ store: 'memory', env: FAST });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'webex-token-cli-'));
});
afterAll(async () => {
  await srv?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs login, approves the code it prints, and returns the finished run. */
async function loginApproved(args: string[], env: Record<string, string> = {}) {
  const cli = startCli(['login', '--server', srv.url, '--scope', SCOPE, ...args], { env });
  const code = await cli.userCode();
  const approved = await approveHandoff(srv.url, code);
  assert.equal(approved.status, 200, approved.body.slice(0, 300));
  const { code: exitCode } = await cli.exit();
  assert.equal(exitCode, 0, cli.stderr());
  return cli;
}

describe('login succeeds in each format', () => {
  test('json: stdout is exactly the token response with absolute expiry times', async () => {
    const cli = await loginApproved(['--format', 'json']);
    const out = cli.stdout();
    assert.ok(out.startsWith('{') && out.endsWith('}\n'), `stdout: ${out}`);
    const tokens = JSON.parse(out) as Record<string, unknown>;
    assert.match(String(tokens.access_token), /^SBX_AT_/);
    // The service's own refresh token (REFRESH_TOKENS=managed); Webex's stays in the service.
    assert.match(String(tokens.refresh_token), /^wst_rt_[A-Za-z0-9_-]{43}$/);
    assert.equal(typeof tokens.expires_in, 'number');
    assert.equal(typeof tokens.refresh_token_expires_in, 'number');
    for (const key of ['expires_at', 'refresh_token_expires_at']) {
      const at = Date.parse(String(tokens[key]));
      assert.ok(at > Date.now(), `${key} in the future`);
    }
    const expected = Date.now() + Number(tokens.expires_in) * 1000;
    assert.ok(Math.abs(Date.parse(String(tokens.expires_at)) - expected) < 10_000);
    assert.equal(tokens.scope, SCOPE);
    // Everything for humans went to stderr.
    assert.match(cli.stderr(), /Open:\s+http:\/\/127\.0\.0\.1:\d+\/device/);
    assert.match(cli.stderr(), /approved: tokens written to stdout/);
    assert.doesNotMatch(cli.stderr(), /SBX_AT_|SBX_RT_|wst_rt_/, 'no token on stderr');
  });

  test('env: stdout is exactly KEY=value lines that eval in bash', async () => {
    const cli = await loginApproved(['--format', 'env']);
    const lines = cli.stdout().split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.deepEqual(
      lines.map((l) => l.split('=')[0]),
      [
        'WEBEX_ACCESS_TOKEN',
        'WEBEX_ACCESS_TOKEN_EXPIRES_AT',
        'WEBEX_REFRESH_TOKEN',
        'WEBEX_REFRESH_TOKEN_EXPIRES_AT',
      ],
    );
    const file = path.join(tmp, 'login.env');
    fs.writeFileSync(file, cli.stdout());
    const { stdout } = await run('bash', [
      '-c',
      'eval "$(cat "$1")"; printf %s "$WEBEX_ACCESS_TOKEN"',
      'bash',
      file,
    ]);
    assert.match(stdout, /^SBX_AT_\S+$/);
    assert.equal(lines[0], `WEBEX_ACCESS_TOKEN=${stdout}`, 'written bare, as $GITHUB_ENV needs');
  });

  test('token: stdout is the access token alone; --quiet keeps stderr to one line', async () => {
    const cli = await loginApproved(['--format', 'token', '--quiet']);
    assert.match(cli.stdout(), /^SBX_AT_[^\s]+\n$/);
    assert.match(
      cli.stderr(),
      /^Approve at http:\/\/127\.0\.0\.1:\d+\/device with code ([A-Z]{4}-[A-Z]{4}), or open http:\/\/127\.0\.0\.1:\d+\/device\?user_code=\1 \(expires in 10 min\)\n$/,
    );
  });

  test('--output: a 0600 file, nothing on stdout; options from env', async () => {
    const file = path.join(tmp, 'tokens.env');
    fs.writeFileSync(file, 'stale\n', { mode: 0o644 });
    const cli = startCli(['login', '--output', file], {
      env: {
        WEBEX_TOKEN_SERVER: srv.url,
        WEBEX_TOKEN_SCOPE: SCOPE,
        WEBEX_TOKEN_FORMAT: 'env',
      },
    });
    await approveHandoff(srv.url, await cli.userCode());
    assert.equal((await cli.exit()).code, 0, cli.stderr());
    assert.equal(cli.stdout(), '');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(file, 'utf8'), /^WEBEX_ACCESS_TOKEN=SBX_AT_/);
    assert.match(cli.stderr(), /tokens written to .*tokens\.env \(mode 0600\)/);
  });
});

describe('login failures', () => {
  test('denied by the admin → exit 3', async () => {
    const cli = startCli(['login', '--server', srv.url, '--scope', SCOPE]);
    const denied = await denyHandoff(srv.url, await cli.userCode());
    assert.ok(denied.status < 500, denied.body.slice(0, 300));
    assert.equal((await cli.exit()).code, 3, cli.stderr());
    assert.match(cli.stderr(), /webex-token: denied: /);
    assert.equal(cli.stdout(), '');
  });

  test('declined at Webex → exit 3', async () => {
    const cli = startCli(['login', '--server', srv.url, '--scope', SCOPE]);
    await approveHandoff(srv.url, await cli.userCode(), { decision: 'decline' });
    assert.equal((await cli.exit()).code, 3, cli.stderr());
    assert.equal(cli.stdout(), '');
  });

  test('the admin belongs to an org the service does not serve → exit 3', async () => {
    const strict = await startTestServer({
      store: 'memory',
      // A UUID of some other org, as Control Hub would show it.
      env: { ...FAST, ALLOWED_ORG_IDS: '00000000-1111-4222-8333-444444444444' },
    });
    try {
      const cli = startCli(['login', '--server', strict.url, '--scope', SCOPE]);
      await approveHandoff(strict.url, await cli.userCode());
      assert.equal((await cli.exit()).code, 3, cli.stderr());
      assert.match(cli.stderr(), /^webex-token: denied: .*organization/m);
      assert.equal(cli.stdout(), '');
    } finally {
      await strict.close();
    }
  });

  test("a scope the server refuses → exit 2 with the server's reason", async () => {
    const cli = startCli(['login', '--server', srv.url, '--scope', 'spark:no_such_scope']);
    assert.equal((await cli.exit()).code, 2, cli.stderr());
    assert.match(cli.stderr(), /^webex-token: scope refused: .*spark:no_such_scope/m);
    assert.equal(cli.stdout(), '');
  });

  test('--timeout 1 → exit 4', async () => {
    const started = Date.now();
    const cli = startCli(['login', '--server', srv.url, '--scope', SCOPE, '--timeout', '1']);
    assert.equal((await cli.exit()).code, 4, cli.stderr());
    assert.match(cli.stderr(), /timed out waiting for approval \(--timeout 1\)/);
    assert.ok(Date.now() - started < 10_000);
    assert.equal(cli.stdout(), '');
  });

  test('the code expires (DEVICE_CODE_TTL_SECONDS=2) → exit 4', async () => {
    const short = await startTestServer({
      store: 'memory',
      env: { ...FAST, DEVICE_CODE_TTL_SECONDS: '2' },
    });
    try {
      const cli = startCli(['login', '--server', short.url, '--scope', SCOPE]);
      await cli.userCode();
      assert.equal((await cli.exit()).code, 4, cli.stderr());
      assert.match(cli.stderr(), /expired before it was approved/);
      assert.equal(cli.stdout(), '');
    } finally {
      await short.close();
    }
  });

  test('unreachable server → exit 5', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const cli = startCli(['login', '--server', `http://127.0.0.1:${port}`]);
    assert.equal((await cli.exit()).code, 5, cli.stderr());
    assert.equal(
      cli.stderr(),
      `webex-token: cannot reach http://127.0.0.1:${port}: connection refused (ECONNREFUSED)\n`,
    );
    assert.equal(cli.stdout(), '');
  });

  test('not a webex-scoped-tokens server (404) → exit 5', async () => {
    const other = http.createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(other.address() as net.AddressInfo).port}`;
    try {
      const cli = startCli(['login', '--server', url]);
      assert.equal((await cli.exit()).code, 5, cli.stderr());
      assert.equal(
        cli.stderr(),
        `webex-token: ${url} is not a webex-scoped-tokens server (/.well-known/oauth-authorization-server answered 404 Not Found)\n`,
      );
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  test('Ctrl-C while waiting → message and exit 130', async () => {
    const cli = startCli(['login', '--server', srv.url, '--scope', SCOPE]);
    await cli.userCode();
    await new Promise((r) => setTimeout(r, 300)); // let it settle into a poll
    cli.child.kill('SIGINT');
    const { code, signal } = await cli.exit(5000);
    assert.equal(signal, null);
    assert.equal(code, 130, cli.stderr());
    assert.match(cli.stderr(), /interrupted \(Ctrl-C\); no tokens were written/);
    assert.equal(cli.stdout(), '');
  });
});

describe('arguments', () => {
  const bad: [string[], RegExp][] = [
    [[], /no command given/],
    [['logon'], /unknown command "logon"/],
    [['login', '--server', 'http://127.0.0.1:9', '--bogus'], /unknown option --bogus/],
    [['login'], /missing --server URL/],
    [['refresh', '--server', 'http://127.0.0.1:9', '--scope', 'x'], /--scope is not an option/],
  ];
  for (const [args, message] of bad) {
    test(`${args.join(' ') || '(no arguments)'} → exit 2 with usage on stderr`, async () => {
      const cli = startCli(args);
      assert.equal((await cli.exit()).code, 2);
      assert.match(cli.stderr(), message);
      assert.match(cli.stderr(), /^Usage:\n {2}webex-token login/m);
      assert.equal(cli.stdout(), '');
    });
  }

  test('a bad value → exit 2 with a one-line message', async () => {
    const cli = startCli(['login', '--server', 'http://127.0.0.1:9', '--format', 'yaml']);
    assert.equal((await cli.exit()).code, 2);
    assert.equal(
      cli.stderr(),
      'webex-token: --format must be one of json, env, token, not "yaml"\n',
    );
  });

  test('--help and --version go to stdout', async () => {
    const help = startCli(['login', '--help']);
    assert.equal((await help.exit()).code, 0);
    assert.match(help.stdout(), /^Usage: webex-token login/);
    assert.equal(help.stderr(), '');
    const version = startCli(['--version']);
    assert.equal((await version.exit()).code, 0);
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(version.stdout(), `${pkg.version}\n`);
  });
});

describe('refresh', () => {
  let login: Record<string, string>;
  /** Refresh tokens rotate: each test goes on with the newest one. */
  let current = '';
  beforeAll(async () => {
    const cli = await loginApproved(['--format', 'json']);
    login = JSON.parse(cli.stdout()) as Record<string, string>;
    current = login.refresh_token ?? '';
  });

  async function refreshed(args: string[], opts: { env?: Record<string, string>; stdin?: string }) {
    const cli = startCli(['refresh', '--server', srv.url, ...args], opts);
    const { code } = await cli.exit();
    assert.equal(code, 0, cli.stderr());
    assert.doesNotMatch(cli.stderr(), /SBX_|wst_rt_/, 'no token on stderr');
    return { stdout: cli.stdout(), stderr: cli.stderr() };
  }

  test('--refresh-token, json out: the access token, and a new refresh token', async () => {
    const out = JSON.parse(
      (await refreshed(['--refresh-token', current, '--format', 'json'], {})).stdout,
    ) as Record<string, string>;
    assert.match(out.access_token ?? '', /^SBX_AT_/);
    assert.match(out.refresh_token ?? '', /^wst_rt_/);
    assert.notEqual(out.refresh_token, current, 'rotated');
    assert.ok(Date.parse(out.expires_at ?? '') > Date.now());
    current = out.refresh_token!;
  });

  test('stdin (the json output of an earlier run), env out', async () => {
    const { stdout } = await refreshed(['--format', 'env'], {
      stdin: JSON.stringify({ ...login, refresh_token: current }),
    });
    assert.match(stdout, /^WEBEX_ACCESS_TOKEN=SBX_AT_\S+\nWEBEX_ACCESS_TOKEN_EXPIRES_AT=/);
    current = /^WEBEX_REFRESH_TOKEN=(\S+)$/m.exec(stdout)?.[1] ?? '';
    assert.match(current, /^wst_rt_/);
  });

  test('WEBEX_REFRESH_TOKEN env, token out: warns that the new refresh token is not shown', async () => {
    const { stdout, stderr } = await refreshed(['--format', 'token'], {
      env: { WEBEX_REFRESH_TOKEN: current },
    });
    assert.match(stdout, /^SBX_AT_\S+\n$/);
    assert.match(stderr, /rotated the refresh token.*--format json or env/);
  });

  test('revoke: exit 0, and the revoked token no longer refreshes (exit 4)', async () => {
    const fresh = await loginApproved(['--format', 'json']);
    const token = (JSON.parse(fresh.stdout()) as Record<string, string>).refresh_token ?? '';
    const revoke = startCli(['revoke', '--server', srv.url], { stdin: fresh.stdout() });
    assert.equal((await revoke.exit()).code, 0, revoke.stderr());
    assert.match(revoke.stderr(), /revoked: .*stays valid at Webex until it expires/);
    assert.doesNotMatch(revoke.stderr(), /wst_rt_|SBX_/);
    const after = startCli(['refresh', '--server', srv.url, '--refresh-token', token]);
    assert.equal((await after.exit()).code, 4, after.stderr());
    assert.match(after.stderr(), /refresh refused/);
  });

  test('an unknown refresh token → exit 4 telling to log in again', async () => {
    const cli = startCli(['refresh', '--server', srv.url, '--refresh-token', 'SBX_RT_unknown']);
    assert.equal((await cli.exit()).code, 4, cli.stderr());
    assert.match(cli.stderr(), /^webex-token: refresh refused: .*webex-token login/m);
    assert.equal(cli.stdout(), '');
  });

  test('no refresh token anywhere → exit 2', async () => {
    const cli = startCli(['refresh', '--server', srv.url]);
    assert.equal((await cli.exit()).code, 2);
    assert.match(cli.stderr(), /no refresh token on stdin/);
  });
});
