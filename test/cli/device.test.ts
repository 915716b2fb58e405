/**
 * The protocol client against a scripted fetch and a fake clock: exact request contents,
 * poll spacing (interval measured from poll start, slow_down, wait), and error mapping.
 */
import assert from 'node:assert/strict';
import { describe, test } from '@jest/globals';
import {
  type DeviceAuthorization,
  DEVICE_CODE_GRANT,
  MAX_TRANSIENT_FAILURES,
  pollForTokens,
  startDeviceAuthorization,
} from '../../src/cli/device';
import { type ServerMetadata, discover } from '../../src/cli/discovery';
import { type Operation, errorFromAnswer } from '../../src/cli/oauth-error';
import { refreshTokens } from '../../src/cli/tokens';
import { CliError, Interrupted } from '../../src/cli/errors';
import { FakeClock } from './fake-clock';

const BASE = 'https://tokens.example.com';

interface Call {
  url: string;
  method: string;
  params: Record<string, string>;
  at: number;
}

type Reply =
  { status: number; body?: unknown; headers?: Record<string, string>; text?: string } | Error;

/** A fetch that records each request and answers with `reply(call, n)`. */
function scripted(clock: FakeClock, reply: (call: Call, n: number) => Reply) {
  const calls: Call[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const body = typeof init?.body === 'string' ? init.body : '';
    const call: Call = {
      url: String(input),
      method: init?.method ?? 'GET',
      params: Object.fromEntries(new URLSearchParams(body)),
      at: clock.now(),
    };
    calls.push(call);
    const r = reply(call, calls.length);
    if (r instanceof Error) throw r;
    const text = r.text ?? (r.body === undefined ? '' : JSON.stringify(r.body));
    return new Response(text, {
      status: r.status,
      headers: { 'content-type': 'application/json', ...r.headers },
    });
  }) as typeof fetch;
  return { calls, fetchImpl };
}

function refused(code: string): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
}

const META: ServerMetadata = {
  issuer: BASE,
  deviceAuthorizationEndpoint: `${BASE}/oauth2/device_authorization`,
  tokenEndpoint: `${BASE}/oauth2/token`,
  version: '0.1.0',
  pollWaitMaxSeconds: 30,
  revocationEndpoint: `${BASE}/oauth2/revoke`,
  scopesMode: 'dynamic',
  scopesSupported: ['spark:people_read'],
};

function authFor(clock: FakeClock, over: Partial<DeviceAuthorization> = {}): DeviceAuthorization {
  return {
    deviceCode: 'DEVICE',
    userCode: 'BCDF-GHJK',
    verificationUri: `${BASE}/device`,
    verificationUriComplete: `${BASE}/device?user_code=BCDF-GHJK`,
    expiresIn: 600,
    interval: 5,
    expiresAt: clock.now() + 600_000,
    ...over,
  };
}

const TOKENS = {
  access_token: 'AT',
  token_type: 'Bearer',
  expires_in: 1209600,
  refresh_token: 'RT',
  refresh_token_expires_in: 7776000,
  scope: 'spark:kms',
};

const pending = { status: 400, body: { error: 'authorization_pending' } };

async function rejectsWith(p: Promise<unknown>, exitCode: number, message: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CliError, String(err));
    assert.equal(err.exitCode, exitCode, err.message);
    assert.match(err.message, message);
    return true;
  });
}

describe('discovery', () => {
  const metadata = {
    issuer: BASE,
    device_authorization_endpoint: `${BASE}/oauth2/device_authorization`,
    token_endpoint: `${BASE}/oauth2/token`,
    webex_scoped_tokens: { version: '1.2.3', poll_wait_max_seconds: 30 },
  };

  test('reads the endpoints and the wait extension', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = scripted(clock, () => ({ status: 200, body: metadata }));
    const meta = await discover(`${BASE}/prefix`, { fetch: fetchImpl, clock });
    assert.equal(calls[0]?.url, `${BASE}/prefix/.well-known/oauth-authorization-server`);
    assert.deepEqual(meta, {
      issuer: BASE,
      deviceAuthorizationEndpoint: `${BASE}/oauth2/device_authorization`,
      tokenEndpoint: `${BASE}/oauth2/token`,
      version: '1.2.3',
      pollWaitMaxSeconds: 30,
      revocationEndpoint: undefined,
      scopesMode: undefined,
      scopesSupported: [],
    });
  });

  test('no poll_wait_max_seconds: no waiting', async () => {
    const clock = new FakeClock();
    const { fetchImpl } = scripted(clock, () => ({
      status: 200,
      body: { ...metadata, webex_scoped_tokens: {} },
    }));
    assert.equal((await discover(BASE, { fetch: fetchImpl, clock })).pollWaitMaxSeconds, 0);
  });

  const failures: [string, Reply, RegExp][] = [
    ['404', { status: 404, text: 'Not Found' }, /is not a webex-scoped-tokens server \(.*404/],
    [
      'an HTML page',
      {
        status: 200,
        text: '<html></html>',
        headers: { 'content-type': 'text/html; charset=utf-8' },
      },
      /is not a webex-scoped-tokens server \(its metadata is not a JSON object but text\/html\)/,
    ],
    [
      'another OAuth server',
      { status: 200, body: { ...metadata, webex_scoped_tokens: undefined } },
      /is not a webex-scoped-tokens server \(its metadata has no webex_scoped_tokens\)/,
    ],
    [
      'no device endpoint',
      { status: 200, body: { ...metadata, device_authorization_endpoint: undefined } },
      /no device_authorization_endpoint/,
    ],
    [
      'a 503',
      { status: 503, body: { error: 'temporarily_unavailable' } },
      /answered 503.*temporarily_unavailable/,
    ],
    [
      'connection refused',
      refused('ECONNREFUSED'),
      /cannot reach https:\/\/tokens\.example\.com: connection refused \(ECONNREFUSED\)/,
    ],
    ['unknown host', refused('ENOTFOUND'), /host not found/],
  ];
  for (const [name, reply, message] of failures) {
    test(`${name} → exit 5`, async () => {
      const clock = new FakeClock();
      const { fetchImpl } = scripted(clock, () => reply);
      await rejectsWith(discover(BASE, { fetch: fetchImpl, clock }), 5, message);
    });
  }
});

describe('device authorization', () => {
  const ok = {
    device_code: 'DEVICE',
    user_code: 'BCDF-GHJK',
    verification_uri: `${BASE}/device`,
    verification_uri_complete: `${BASE}/device?user_code=BCDF-GHJK`,
    expires_in: 600,
    interval: 5,
  };

  test('sends client_id, scope and client_secret as a form', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = scripted(clock, () => ({ status: 200, body: ok }));
    const auth = await startDeviceAuthorization(
      META,
      { clientId: 'ci', clientSecret: 'sec' },
      ['spark:kms', 'spark:people_read'],
      { fetch: fetchImpl, clock },
    );
    assert.equal(calls[0]?.method, 'POST');
    assert.equal(calls[0]?.url, META.deviceAuthorizationEndpoint);
    assert.deepEqual(calls[0]?.params, {
      client_id: 'ci',
      scope: 'spark:kms spark:people_read',
      client_secret: 'sec',
    });
    assert.equal(auth.userCode, 'BCDF-GHJK');
    assert.equal(auth.expiresAt, clock.now() + 600_000);
  });

  test('no scopes: no scope parameter', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = scripted(clock, () => ({
      status: 200,
      body: { ...ok, interval: undefined },
    }));
    const auth = await startDeviceAuthorization(
      META,
      { clientId: 'cli', clientSecret: undefined },
      [],
      {
        fetch: fetchImpl,
        clock,
      },
    );
    assert.deepEqual(calls[0]?.params, { client_id: 'cli' });
    assert.equal(auth.interval, 5, 'RFC 8628 default interval');
  });

  const failures: [string, Reply, number, RegExp][] = [
    [
      'invalid_scope',
      {
        status: 400,
        body: { error: 'invalid_scope', error_description: 'spark:bogus is not offered here.' },
      },
      2,
      /^scope refused: spark:bogus is not offered here\.$/,
    ],
    [
      'invalid_client',
      { status: 401, body: { error: 'invalid_client', error_description: 'Unknown client.' } },
      2,
      /client "cli" refused: Unknown client\./,
    ],
    [
      'rate limited',
      { status: 429, body: { error: 'slow_down' }, headers: { 'retry-after': '17' } },
      5,
      /rate-limiting.*try again in 17 s/,
    ],
    [
      'unavailable',
      { status: 503, body: { error: 'temporarily_unavailable', error_description: 'Store down.' } },
      5,
      /503.*temporarily_unavailable: Store down\./,
    ],
    ['garbage', { status: 200, text: 'hello' }, 5, /unusable device authorization/],
  ];
  for (const [name, reply, code, message] of failures) {
    test(`${name} → exit ${code}`, async () => {
      const clock = new FakeClock();
      const { fetchImpl } = scripted(clock, () => reply);
      await rejectsWith(
        startDeviceAuthorization(META, { clientId: 'cli', clientSecret: undefined }, [], {
          fetch: fetchImpl,
          clock,
        }),
        code,
        message,
      );
    });
  }

  test('server text is cleaned of control characters', async () => {
    const clock = new FakeClock();
    const { fetchImpl } = scripted(clock, () => ({
      status: 400,
      body: { error: 'invalid_scope', error_description: 'bad\x1b[31m\nscope' },
    }));
    await rejectsWith(
      startDeviceAuthorization(META, { clientId: 'cli', clientSecret: undefined }, [], {
        fetch: fetchImpl,
        clock,
      }),
      2,
      /^scope refused: bad \[31m scope$/,
    );
  });
});

describe('polling', () => {
  const client = { clientId: 'cli', clientSecret: undefined, deadline: undefined };

  test('pending, slow_down, pending, tokens: spacing measured from each poll start', async () => {
    const clock = new FakeClock();
    const script: Reply[] = [
      pending,
      { status: 400, body: { error: 'slow_down' } },
      pending,
      { status: 200, body: TOKENS },
    ];
    const { calls, fetchImpl } = scripted(clock, (_c, n) => {
      // The request itself takes 1.5 s (as a held poll would), which counts toward the interval.
      clock.t += 1500;
      return script[n - 1] as Reply;
    });
    const slowDowns: number[] = [];
    const t0 = clock.now();
    const result = await pollForTokens(
      META,
      authFor(clock),
      client,
      { fetch: fetchImpl, clock },
      {
        onSlowDown: (s) => slowDowns.push(s),
      },
    );
    assert.deepEqual(result.tokens, TOKENS);
    assert.equal(result.receivedAt, clock.now());
    assert.deepEqual(
      calls.map((c) => c.at - t0),
      [0, 5200, 15400, 25600],
      '5 s (+0.2 s margin) between starts; 10 s after slow_down',
    );
    assert.deepEqual(slowDowns, [10]);
    for (const c of calls) {
      assert.deepEqual(c.params, {
        grant_type: DEVICE_CODE_GRANT,
        device_code: 'DEVICE',
        client_id: 'cli',
        wait: '30',
      });
    }
  });

  test('a held poll that used up the interval is followed at once', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = scripted(clock, (call, n) => {
      clock.t += Number(call.params.wait) * 1000; // the server held it the whole time
      return n < 3 ? pending : { status: 200, body: TOKENS };
    });
    const t0 = clock.now();
    await pollForTokens(META, authFor(clock), client, { fetch: fetchImpl, clock });
    assert.deepEqual(
      calls.map((c) => c.at - t0),
      [0, 30_000, 60_000],
    );
  });

  test('wait never asks beyond the time left, and is left out without the extension', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = scripted(clock, (_c, n) =>
      n < 2 ? pending : { status: 200, body: TOKENS },
    );
    await pollForTokens(META, authFor(clock, { expiresAt: clock.now() + 12_500 }), client, {
      fetch: fetchImpl,
      clock,
    });
    assert.deepEqual(
      calls.map((c) => c.params.wait),
      ['12', '7'],
    );

    const clock2 = new FakeClock();
    const s2 = scripted(clock2, (_c, n) => (n < 2 ? pending : { status: 200, body: TOKENS }));
    await pollForTokens(
      { ...META, pollWaitMaxSeconds: 0 },
      authFor(clock2),
      { ...client, clientSecret: 'sec' },
      {
        fetch: s2.fetchImpl,
        clock: clock2,
      },
    );
    assert.equal(s2.calls[0]?.params.wait, undefined);
    assert.equal(s2.calls[0]?.params.client_secret, 'sec');
  });

  const endings: [string, Reply, number, RegExp][] = [
    [
      'access_denied',
      {
        status: 400,
        body: {
          error: 'access_denied',
          error_description: 'Your organization is not allowed to use this service.',
        },
      },
      3,
      /^denied: Your organization is not allowed/,
    ],
    [
      'access_denied without a description',
      { status: 400, body: { error: 'access_denied' } },
      3,
      /^denied: the request was declined/,
    ],
    [
      'expired_token',
      { status: 400, body: { error: 'expired_token' } },
      4,
      /code BCDF-GHJK expired before it was approved/,
    ],
    [
      'invalid_grant',
      { status: 400, body: { error: 'invalid_grant', error_description: 'Unknown code.' } },
      5,
      /invalid_grant: Unknown code\./,
    ],
    [
      'invalid_client',
      { status: 401, body: { error: 'invalid_client' } },
      2,
      /client "cli" refused/,
    ],
    [
      'a 404 HTML page',
      { status: 404, text: '<h1>nope</h1>', headers: { 'content-type': 'text/html' } },
      5,
      /answered 404/,
    ],
    ['garbage with 200', { status: 200, text: 'ok' }, 5, /not JSON/],
    [
      'a token with a newline',
      { status: 200, body: { access_token: 'a\nb' } },
      5,
      /unusable token response/,
    ],
  ];
  for (const [name, reply, code, message] of endings) {
    test(`${name} → exit ${code}`, async () => {
      const clock = new FakeClock();
      const { fetchImpl } = scripted(clock, (_c, n) => (n === 1 ? pending : reply));
      await rejectsWith(
        pollForTokens(META, authFor(clock), client, { fetch: fetchImpl, clock }),
        code,
        message,
      );
    });
  }

  test('--timeout: exit 4 when the deadline passes first', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = scripted(clock, (call) => {
      clock.t += Number(call.params.wait ?? 0) * 1000;
      return pending;
    });
    const t0 = clock.now();
    await rejectsWith(
      pollForTokens(
        META,
        authFor(clock),
        { ...client, deadline: t0 + 45_000, deadlineLabel: '--timeout 45' },
        {
          fetch: fetchImpl,
          clock,
        },
      ),
      4,
      /timed out waiting for approval \(--timeout 45\)/,
    );
    assert.deepEqual(
      calls.map((c) => c.params.wait),
      ['30', '15'],
    );
    assert.equal(clock.now() - t0, 45_000);
  });

  test('the code expiring locally: exit 4', async () => {
    const clock = new FakeClock();
    const { fetchImpl } = scripted(clock, () => pending);
    await rejectsWith(
      pollForTokens(
        { ...META, pollWaitMaxSeconds: 0 },
        authFor(clock, { expiresAt: clock.now() + 20_000 }),
        client,
        {
          fetch: fetchImpl,
          clock,
        },
      ),
      4,
      /expired before it was approved; run login again/,
    );
  });

  test('network trouble and 5xx while waiting are retried', async () => {
    const clock = new FakeClock();
    const script: Reply[] = [
      pending,
      refused('ECONNRESET'),
      { status: 502, text: 'Bad Gateway' },
      pending,
      { status: 200, body: TOKENS },
    ];
    const { fetchImpl } = scripted(clock, (_c, n) => script[n - 1] as Reply);
    const retries: string[] = [];
    const result = await pollForTokens(
      META,
      authFor(clock),
      client,
      { fetch: fetchImpl, clock },
      {
        onRetry: (m, attempt) => retries.push(`${attempt}: ${m}`),
      },
    );
    assert.equal(result.tokens.access_token, 'AT');
    assert.equal(retries.length, 2);
    assert.match(retries[0] ?? '', /^1: cannot reach .*connection reset/);
    assert.match(retries[1] ?? '', /^2: polling failed: the server answered 502/);
  });

  test(`more than ${MAX_TRANSIENT_FAILURES} failures in a row: exit 5`, async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = scripted(clock, () => refused('ECONNREFUSED'));
    await rejectsWith(
      pollForTokens(META, authFor(clock), client, { fetch: fetchImpl, clock }),
      5,
      /connection refused.*gave up after 6 attempts/,
    );
    assert.equal(calls.length, MAX_TRANSIENT_FAILURES + 1);
  });

  test('aborting (Ctrl-C) while waiting rejects with Interrupted', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const { fetchImpl } = scripted(clock, (_c, n) => {
      if (n === 2) controller.abort();
      return pending;
    });
    await assert.rejects(
      pollForTokens(META, authFor(clock), client, {
        fetch: fetchImpl,
        clock,
        signal: controller.signal,
      }),
      Interrupted,
    );
  });
});

describe('refresh', () => {
  test('sends the refresh grant and returns the tokens', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = scripted(clock, () => ({ status: 200, body: TOKENS }));
    const r = await refreshTokens(
      META,
      'RT',
      { clientId: 'cli', clientSecret: undefined },
      { fetch: fetchImpl, clock },
    );
    assert.deepEqual(r.tokens, TOKENS);
    assert.deepEqual(calls[0]?.params, {
      grant_type: 'refresh_token',
      refresh_token: 'RT',
      client_id: 'cli',
    });
  });

  test('invalid_grant → exit 4 with the server description', async () => {
    const clock = new FakeClock();
    const { fetchImpl } = scripted(clock, () => ({
      status: 400,
      body: {
        error: 'invalid_grant',
        error_description: 'The refresh token expired; run the device flow again.',
      },
    }));
    await rejectsWith(
      refreshTokens(
        META,
        'RT',
        { clientId: 'cli', clientSecret: undefined },
        { fetch: fetchImpl, clock },
      ),
      4,
      /^refresh refused: The refresh token expired; run the device flow again\.$/,
    );
  });
});

describe('one mapping from an OAuth error answer to a CLI error', () => {
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    status,
    statusText: '',
    headers: new Headers(headers),
    text: JSON.stringify(body),
  });
  const ctx = (operation: Operation) => ({ operation, clientId: 'cli' });

  test('429 and 5xx are flagged transient with the Retry-After; other refusals are not', () => {
    const limited = errorFromAnswer(
      answer(429, { error: 'slow_down' }, { 'retry-after': '7' }),
      ctx('refresh'),
    );
    assert.equal(limited.transient, true);
    assert.equal(limited.retryAfterSeconds, 7);
    const down = errorFromAnswer(
      answer(503, { error: 'temporarily_unavailable' }),
      ctx('token exchange'),
    );
    assert.equal(down.transient, true);
    assert.equal(down.exitCode, 5);
    assert.equal(
      errorFromAnswer(answer(400, { error: 'invalid_request' }), ctx('polling')).transient,
      false,
    );
  });

  test('invalid_grant: what it means depends on the step, with one table for all', () => {
    const grant = { error: 'invalid_grant', error_description: 'Nope.' };
    const codes = (['refresh', 'token exchange', 'device authorization', 'polling'] as const).map(
      (op) => errorFromAnswer(answer(400, grant), ctx(op)).exitCode,
    );
    assert.deepEqual(codes, [4, 4, 2, 5]);
    assert.match(
      errorFromAnswer(answer(400, grant), ctx('token exchange')).message,
      /run "webex-token login --oidc"/,
    );
  });

  test('invalid_client and invalid_scope mean the same for every step', () => {
    for (const op of ['device authorization', 'polling', 'refresh', 'token exchange'] as const) {
      assert.equal(errorFromAnswer(answer(401, { error: 'invalid_client' }), ctx(op)).exitCode, 2);
      assert.equal(errorFromAnswer(answer(400, { error: 'invalid_scope' }), ctx(op)).exitCode, 2);
    }
  });
});
