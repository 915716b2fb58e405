/* eslint-disable no-control-regex -- the tests look for terminal escape sequences */
/**
 * run(argv, io) in-process with a scripted server: what a terminal sees (QR code, live
 * status line) versus a CI log, and that stdout only ever carries the token output.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, jest, test } from '@jest/globals';
import { type CliIO, run } from '../../src/cli/main';
import { WaitStatus, clockDuration, wordsDuration } from '../../src/cli/status';
import { FakeClock } from './fake-clock';

const BASE = 'https://tokens.example.com';

function fakeServer(pendingPolls = 1): typeof fetch {
  let polls = 0;
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json' },
      });
    if (url.endsWith('/.well-known/oauth-authorization-server')) {
      return json(200, {
        issuer: BASE,
        device_authorization_endpoint: `${BASE}/oauth2/device_authorization`,
        token_endpoint: `${BASE}/oauth2/token`,
        webex_scoped_tokens: { version: '9.9.9', poll_wait_max_seconds: 30 },
      });
    }
    if (url.endsWith('/oauth2/device_authorization')) {
      return json(200, {
        device_code: 'DEV',
        user_code: 'BCDF-GHJK',
        verification_uri: `${BASE}/device`,
        verification_uri_complete: `${BASE}/device?user_code=BCDF-GHJK`,
        expires_in: 600,
        interval: 5,
      });
    }
    const params = new URLSearchParams(String(init?.body));
    if (params.get('grant_type') === 'refresh_token') {
      return json(200, { access_token: 'AT_REFRESHED', expires_in: 60, refresh_token: 'RT' });
    }
    polls += 1;
    if (polls <= pendingPolls) return json(400, { error: 'authorization_pending' });
    return json(200, {
      access_token: 'AT_1',
      token_type: 'Bearer',
      expires_in: 1209600,
      refresh_token: 'RT_1',
      refresh_token_expires_in: 7776000,
      scope: 'spark:kms',
    });
  }) as typeof fetch;
}

function io(over: Partial<CliIO> & { tty?: boolean } = {}) {
  let out = '';
  let err = '';
  const value: CliIO = {
    stdout: { write: (c: string) => (out += c) },
    stderr: { write: (c: string) => (err += c), isTTY: over.tty ?? false },
    env: {},
    fetch: fakeServer(),
    clock: new FakeClock(),
    ...over,
  };
  return { io: value, out: () => out, err: () => err };
}

describe('run()', () => {
  test('on a terminal: QR code and a live status line, cleared before the result', async () => {
    const t = io({ tty: true });
    const code = await run(['login', '-s', BASE, '-f', 'token'], t.io);
    assert.equal(code, 0, t.err());
    assert.equal(t.out(), 'AT_1\n');
    assert.match(t.err(), /[█▀▄]{10}/, 'QR code drawn');
    assert.match(t.err(), /\r\x1b\[2K⠋ Waiting for approval… 10:00 left \(Ctrl-C to cancel\)/);
    assert.match(t.err(), /\r\x1b\[2Kwebex-token: approved:/, 'status line cleared first');
  });

  test('--no-qr on a terminal: no QR code', async () => {
    const t = io({ tty: true });
    assert.equal(await run(['login', '-s', BASE, '--no-qr'], t.io), 0);
    assert.doesNotMatch(t.err(), /[█▀▄]/);
  });

  test('TERM=dumb counts as no terminal', async () => {
    const t = io({ tty: true, env: { TERM: 'dumb' } });
    assert.equal(await run(['login', '-s', BASE], t.io), 0);
    assert.doesNotMatch(t.err(), /[█▀▄\x1b]/);
  });

  test('not a terminal (CI log): plain lines only, no escapes, no QR', async () => {
    const t = io();
    assert.equal(await run(['login', '-s', BASE, '--scope', 'spark:kms'], t.io), 0);
    assert.doesNotMatch(t.err(), /[█▀▄\x1b\r]/);
    assert.match(t.err(), /client cli, scopes: spark:kms/);
    assert.match(t.err(), /Code:\s+BCDF-GHJK/);
    assert.match(t.err(), /or open https:\/\/tokens\.example\.com\/device\?user_code=BCDF-GHJK/);
    assert.match(t.err(), /The code expires in 10 min, at \d\d:\d\d\./);
    const json = JSON.parse(t.out()) as Record<string, unknown>;
    assert.equal(json.access_token, 'AT_1');
    assert.equal(json.expires_at, '2030-01-15T00:00:05.200Z');
  });

  test('an aborted signal (Ctrl-C) → 130 and a message, nothing on stdout', async () => {
    const controller = new AbortController();
    controller.abort();
    const t = io({ signal: controller.signal });
    assert.equal(await run(['login', '-s', BASE], t.io), 130);
    assert.match(t.err(), /interrupted \(Ctrl-C\); no tokens were written/);
    assert.equal(t.out(), '');
  });

  test('refresh reads a piped env file from stdin', async () => {
    const t = io({ stdin: Readable.from(['WEBEX_ACCESS_TOKEN=x\nWEBEX_REFRESH_TOKEN=RT\n']) });
    assert.equal(await run(['refresh', '-s', BASE, '-f', 'token'], t.io), 0, t.err());
    assert.equal(t.out(), 'AT_REFRESHED\n');
  });

  test('refresh with stdin on a terminal and no token → exit 2', async () => {
    const stdin = Object.assign(Readable.from([]), { isTTY: true });
    const t = io({ stdin });
    assert.equal(await run(['refresh', '-s', BASE], t.io), 2);
    assert.match(t.err(), /no refresh token: pass --refresh-token, set WEBEX_REFRESH_TOKEN/);
  });

  test('-q: one line, still with the link that has the code filled in', async () => {
    const t = io();
    assert.equal(await run(['login', '-s', BASE, '-q'], t.io), 0, t.err());
    const lines = t.err().split('\n').filter(Boolean);
    assert.equal(lines.length, 1, t.err());
    assert.match(
      lines[0]!,
      /^Approve at https:\/\/tokens\.example\.com\/device with code BCDF-GHJK/,
    );
    assert.ok(
      lines[0]!.includes(`or open ${BASE}/device?user_code=BCDF-GHJK`),
      'the complete link is printed',
    );
  });

  test('plain http to a non-loopback host warns', async () => {
    const t = io();
    await run(['login', '-s', 'http://tokens.internal', '-q'], t.io);
    assert.match(t.err(), /warning: http:\/\/tokens\.internal uses plain http/);
  });
});

describe('status line', () => {
  test('durations', () => {
    assert.equal(clockDuration(599_001), '10:00');
    assert.equal(clockDuration(65_000), '1:05');
    assert.equal(clockDuration(3_723_000), '1:02:03');
    assert.equal(wordsDuration(600_000), '10 min');
    assert.equal(wordsDuration(65_000), '1 min 5 s');
    assert.equal(wordsDuration(45_000), '45 s');
    assert.equal(wordsDuration(3_720_000), '1 h 2 min');
  });

  test('not live: a plain line every logEveryMs', async () => {
    let err = '';
    const status = new WaitStatus(
      { write: (c: string) => (err += c) },
      { live: false, quiet: false, now: () => 0, stopAt: 95_000, logEveryMs: 20 },
    );
    // Jest's fake timers: two logEveryMs intervals pass at once, however loaded the machine.
    jest.useFakeTimers();
    try {
      status.start();
      jest.advanceTimersByTime(45);
      status.stop();
    } finally {
      jest.useRealTimers();
    }
    assert.match(err, /^(Still waiting for approval \(1 min 35 s left\)\n){2,}$/);
  });

  test('quiet: nothing at all', async () => {
    let err = '';
    const status = new WaitStatus(
      { write: (c: string) => (err += c) },
      { live: true, quiet: true, now: () => 0, stopAt: 1000, frameMs: 5 },
    );
    jest.useFakeTimers();
    try {
      status.start();
      jest.advanceTimersByTime(30);
      status.note('x');
      status.stop();
    } finally {
      jest.useRealTimers();
    }
    assert.equal(err, 'x\n');
  });
});

describe('giving up cancels the request (RFC 7009); scopes; who approved', () => {
  /** A server in dynamic mode that never approves; records every request. */
  function pendingServer(opts: { revocation?: boolean; approveWith?: unknown } = {}) {
    const calls: { url: string; params: URLSearchParams }[] = [];
    const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      const params = new URLSearchParams(typeof init?.body === 'string' ? init.body : '');
      calls.push({ url, params });
      const json = (status: number, body: unknown) =>
        new Response(JSON.stringify(body), {
          status,
          headers: { 'content-type': 'application/json' },
        });
      if (url.endsWith('/.well-known/oauth-authorization-server')) {
        return json(200, {
          issuer: BASE,
          device_authorization_endpoint: `${BASE}/oauth2/device_authorization`,
          token_endpoint: `${BASE}/oauth2/token`,
          ...(opts.revocation === false ? {} : { revocation_endpoint: `${BASE}/oauth2/revoke` }),
          scopes_supported: ['spark-admin:people_read', 'spark:people_read'],
          webex_scoped_tokens: { poll_wait_max_seconds: 30, scopes_mode: 'dynamic' },
        });
      }
      if (url.endsWith('/oauth2/device_authorization')) {
        return json(200, {
          device_code: 'DEV',
          user_code: 'BCDF-GHJK',
          verification_uri: `${BASE}/device`,
          expires_in: 600,
          interval: 5,
        });
      }
      if (url.endsWith('/oauth2/revoke')) return new Response('', { status: 200 });
      if (opts.approveWith) return json(200, opts.approveWith);
      return json(400, { error: 'authorization_pending' });
    }) as typeof fetch;
    return { calls, fetchImpl };
  }
  const revocations = (calls: { url: string; params: URLSearchParams }[]) =>
    calls.filter((c) => c.url === `${BASE}/oauth2/revoke`);

  test('--timeout: the device code is revoked with token_type_hint=device_code, then exit 4', async () => {
    const server = pendingServer();
    const t = io({ fetch: server.fetchImpl });
    const code = await run(
      ['login', '-s', BASE, '--scope', 'spark:people_read', '--timeout', '60'],
      t.io,
    );
    assert.equal(code, 4, t.err());
    const [revoke, ...more] = revocations(server.calls);
    assert.equal(more.length, 0);
    assert.equal(revoke?.params.get('token'), 'DEV');
    assert.equal(revoke?.params.get('token_type_hint'), 'device_code');
    assert.equal(revoke?.params.get('client_id'), 'cli');
    assert.match(
      t.err(),
      /cancelled the request on the server; the code BCDF-GHJK can no longer be approved/,
    );
  });

  test('Ctrl-C while waiting: revoked although the run is aborted, then 130', async () => {
    const server = pendingServer();
    const controller = new AbortController();
    let polls = 0;
    const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
      if (String(input).endsWith('/oauth2/token') && ++polls === 2) controller.abort('SIGINT');
      return server.fetchImpl(input, init);
    }) as typeof fetch;
    const t = io({ fetch: fetchImpl, signal: controller.signal });
    assert.equal(await run(['login', '-s', BASE, '--scope', 'spark:people_read'], t.io), 130);
    assert.equal(revocations(server.calls).length, 1);
    assert.match(t.err(), /cancelled the request on the server/);
    assert.match(t.err(), /interrupted \(Ctrl-C\)/);
  });

  test('SIGTERM: revoked, then 143', async () => {
    const server = pendingServer();
    const controller = new AbortController();
    const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
      if (String(input).endsWith('/oauth2/token')) controller.abort('SIGTERM');
      return server.fetchImpl(input, init);
    }) as typeof fetch;
    const t = io({ fetch: fetchImpl, signal: controller.signal });
    assert.equal(await run(['login', '-s', BASE, '--scope', 'spark:people_read'], t.io), 143);
    assert.equal(revocations(server.calls).length, 1);
    assert.match(t.err(), /stopped \(SIGTERM\); no tokens were written/);
  });

  test('a server without a revocation endpoint: says the code stays valid', async () => {
    const server = pendingServer({ revocation: false });
    const t = io({ fetch: server.fetchImpl });
    assert.equal(await run(['login', '-s', BASE, '--scope', 'x', '--timeout', '30'], t.io), 4);
    assert.match(
      t.err(),
      /could not cancel the request \(the server offers no revocation endpoint\); the code BCDF-GHJK can still be approved until \d\d:\d\d/,
    );
  });

  test('no scope against a dynamic-mode server: "add --scope", exit 2, nothing requested', async () => {
    const server = pendingServer();
    const t = io({ fetch: server.fetchImpl });
    assert.equal(await run(['login', '-s', BASE], t.io), 2);
    assert.match(t.err(), /no scope given.*add --scope "spark:people_read"/);
    assert.equal(
      server.calls.filter((c) => c.url.endsWith('/device_authorization')).length,
      0,
      'no device authorization was started',
    );
  });

  test('who approved goes to stderr, not into the token output', async () => {
    const server = pendingServer({
      approveWith: {
        access_token: 'AT_1',
        token_type: 'Bearer',
        expires_in: 60,
        scope: 'spark:people_read',
        webex_scoped_tokens: { approved_by: { name: 'Ada Admin', email: 'ada@example.com' } },
      },
    });
    const t = io({ fetch: server.fetchImpl });
    assert.equal(await run(['login', '-s', BASE, '--scope', 'spark:people_read'], t.io), 0);
    assert.match(t.err(), /webex-token: approved by Ada Admin <ada@example\.com>/);
    assert.equal((JSON.parse(t.out()) as Record<string, unknown>).webex_scoped_tokens, undefined);
    assert.equal(revocations(server.calls).length, 0, 'nothing cancelled on success');
  });
});
