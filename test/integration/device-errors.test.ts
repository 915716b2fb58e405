/**
 * Issue 3, every error of the device authorization and token endpoints by status and `error`
 * (RFC 6749 §5.2, RFC 8628 §3.5), scope rules in both modes, unknown and confidential clients,
 * the refresh_token grant, short-TTL expiry and the per-address request limit.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import {
  approveHandoff,
  denyHandoff,
  openApproval,
  pollToken,
  requestHandoff,
} from '../helpers/admin';
import { startTestServer, type TestServer } from '../helpers/server';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const CI_SECRET = 'ci-secret-0123456789abcdef';
const CLIENTS = JSON.stringify([
  { id: 'cli', name: 'webex-token CLI' },
  { id: 'ci', name: 'CI pipeline', secret: CI_SECRET },
  { id: 'reader', name: 'License reader', scopes: ['spark-admin:licenses_read'] },
]);
const ALLOWED =
  'spark-admin:people_read spark-admin:licenses_read spark-admin:devices_read spark:kms';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function post(
  url: string,
  body: string | URLSearchParams | Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body:
      typeof body === 'string' || body instanceof URLSearchParams
        ? body
        : new URLSearchParams(body),
  });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`expected JSON from ${url} (${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, json };
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function assertError(a: Answer, status: number, error: string, description?: RegExp): void {
  assert.equal(
    a.status,
    status,
    `expected ${status} ${error}, got ${a.status} ${JSON.stringify(a.json)}`,
  );
  assert.equal(a.json.error, error, JSON.stringify(a.json));
  assert.equal(typeof a.json.error_description, 'string');
  if (description) assert.match(String(a.json.error_description), description);
  assert.equal(a.headers.get('cache-control'), 'no-store');
  assert.equal(a.json.access_token, undefined);
}

describe('dynamic mode', () => {
  let srv: TestServer;
  let dev: string;
  let tok: string;
  beforeAll(async () => {
    srv = await startTestServer({
      env: {
        DEVICE_POLL_INTERVAL_SECONDS: '1',
        RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000',
        DEVICE_CLIENTS: CLIENTS,
        ALLOWED_SCOPES: ALLOWED,
      },
    });
    dev = `${srv.url}/oauth2/device_authorization`;
    tok = `${srv.url}/oauth2/token`;
  });
  afterAll(() => srv.close());

  const handoff = async (
    form: Record<string, string> = { client_id: 'cli', scope: 'spark-admin:people_read' },
  ) => {
    const a = await requestHandoff(srv.url, form);
    assert.equal(a.status, 200, JSON.stringify(a.json));
    return { deviceCode: String(a.json.device_code), userCode: String(a.json.user_code) };
  };

  test('authorization_pending until approved', async () => {
    const { deviceCode } = await handoff();
    assertError(
      await pollToken(srv.url, { device_code: deviceCode }),
      400,
      'authorization_pending',
    );
    await sleep(1000);
    assertError(
      await pollToken(srv.url, { device_code: deviceCode }),
      400,
      'authorization_pending',
    );
  });

  test('slow_down when polled too fast, and the interval grows by 5 s each time', async () => {
    const { deviceCode } = await handoff();
    const demanded = (a: Answer) =>
      Number(/(\d+) seconds/.exec(String(a.json.error_description))?.[1]);
    assertError(
      await pollToken(srv.url, { device_code: deviceCode }),
      400,
      'authorization_pending',
    );
    const first = await pollToken(srv.url, { device_code: deviceCode });
    assertError(first, 400, 'slow_down');
    assert.equal(demanded(first), 6, 'interval 1 s + 5 s');
    const second = await pollToken(srv.url, { device_code: deviceCode });
    assertError(second, 400, 'slow_down');
    assert.equal(demanded(second), 11, 'a second too-fast poll demands 5 s more');
    // Waiting only the configured interval is no longer enough: the handoff's interval grew.
    await sleep(1200);
    const third = await pollToken(srv.url, { device_code: deviceCode });
    assertError(third, 400, 'slow_down');
    assert.ok(demanded(third) >= 16, String(third.json.error_description));
  });

  test('access_denied after Deny', async () => {
    const { deviceCode, userCode } = await handoff();
    const page = await denyHandoff(srv.url, userCode);
    assert.equal(page.status, 200);
    assert.match(page.body, /Request denied/);
    assertError(
      await pollToken(srv.url, { device_code: deviceCode }),
      400,
      'access_denied',
      /denied/,
    );
  });

  test('access_denied after the admin declines at Webex', async () => {
    const { deviceCode, userCode } = await handoff();
    const page = await approveHandoff(srv.url, userCode, { decision: 'decline' });
    assert.equal(page.status, 403);
    assert.match(page.body, /declined/);
    assertError(
      await pollToken(srv.url, { device_code: deviceCode }),
      400,
      'access_denied',
      /declined|refused/,
    );
  });

  test('access_denied when a non-admin signs in for spark-admin scopes (Webex invalid_scope)', async () => {
    const { deviceCode, userCode } = await handoff();
    const page = await approveHandoff(srv.url, userCode, { decision: 'non-admin' });
    assert.equal(page.status, 403);
    assert.match(page.body, /not entitled/);
    assertError(
      await pollToken(srv.url, { device_code: deviceCode }),
      400,
      'access_denied',
      /not entitled/,
    );
  });

  test('invalid_grant for unknown, foreign and already-delivered device codes', async () => {
    assertError(
      await pollToken(srv.url, { device_code: crypto.randomBytes(32).toString('base64url') }),
      400,
      'invalid_grant',
      /device flow|device authorization/i,
    );
    assertError(await pollToken(srv.url, { device_code: 'x' }), 400, 'invalid_grant');
    // A code issued to one client is unknown to another.
    const { deviceCode, userCode } = await handoff({
      client_id: 'reader',
      scope: 'spark-admin:licenses_read',
    });
    assertError(await pollToken(srv.url, { device_code: deviceCode }), 400, 'invalid_grant');
    assert.equal((await approveHandoff(srv.url, userCode)).status, 200);
    await sleep(800);
    const ok = await pollToken(srv.url, { device_code: deviceCode, client_id: 'reader' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    // licenses_read cannot read people/me, so the identity scope was added and is delivered.
    assert.equal(ok.json.scope, 'spark-admin:licenses_read spark:people_read');
    await sleep(1000);
    assertError(
      await pollToken(srv.url, { device_code: deviceCode, client_id: 'reader' }),
      400,
      'invalid_grant',
    );
  });

  test('unsupported_grant_type', async () => {
    for (const grant of [
      'authorization_code',
      'password',
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ]) {
      assertError(
        await post(tok, { grant_type: grant, client_id: 'cli' }),
        400,
        'unsupported_grant_type',
      );
    }
  });

  test('invalid_request: missing, repeated or nested parameters, and bodies that are not a form', async () => {
    const { deviceCode } = await handoff();
    assertError(
      await post(tok, { client_id: 'cli', device_code: deviceCode }),
      400,
      'invalid_request',
      /grant_type/,
    );
    assertError(
      await post(tok, { grant_type: DEVICE_GRANT, client_id: 'cli' }),
      400,
      'invalid_request',
      /device_code/,
    );
    assertError(
      await post(tok, { grant_type: 'refresh_token', client_id: 'cli' }),
      400,
      'invalid_request',
      /refresh_token/,
    );
    const q = (s: string) => `grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=cli&${s}`;
    assertError(
      await post(tok, q(`device_code=${deviceCode}&device_code=${deviceCode}`)),
      400,
      'invalid_request',
      /device_code/,
    );
    assertError(
      await post(
        tok,
        `grant_type=refresh_token&grant_type=refresh_token&client_id=cli&refresh_token=x`,
      ),
      400,
      'invalid_request',
      /grant_type/,
    );
    assertError(await post(tok, q(`device_code[a]=${deviceCode}`)), 400, 'invalid_request');
    assertError(
      await post(tok, q(`device_code=${deviceCode}&wait=soon`)),
      400,
      'invalid_request',
      /wait/,
    );
    assertError(
      await post(dev, 'client_id=cli&client_id=cli&scope=spark-admin:people_read'),
      400,
      'invalid_request',
      /client_id/,
    );
    assertError(
      await post(dev, 'client_id=cli&scope=spark-admin:people_read&scope=spark:kms'),
      400,
      'invalid_request',
      /scope/,
    );
    const json = { 'content-type': 'application/json' };
    assertError(
      await post(
        tok,
        JSON.stringify({ grant_type: DEVICE_GRANT, client_id: 'cli', device_code: deviceCode }),
        json,
      ),
      400,
      'invalid_request',
      /x-www-form-urlencoded/,
    );
    assertError(
      await post(dev, JSON.stringify({ client_id: 'cli', scope: 'spark-admin:people_read' }), json),
      400,
      'invalid_request',
      /x-www-form-urlencoded/,
    );
    assertError(
      await post(dev, 'client_id=cli', { 'content-type': 'text/plain' }),
      400,
      'invalid_request',
    );
    const empty = await fetch(tok, { method: 'POST' });
    assert.equal(empty.status, 400);
    assert.equal(((await empty.json()) as { error: string }).error, 'invalid_request');
    // Malformed Basic credentials are a client authentication failure.
    assertError(
      await post(tok, q(`device_code=${deviceCode}`), { authorization: 'Bearer abc' }),
      401,
      'invalid_client',
    );
  });

  test('invalid_scope: unknown, spark:all, outside ALLOWED_SCOPES, outside the client list, none', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ client_id: 'cli', scope: 'spark-admin:no_such_scope' }, /spark-admin:no_such_scope/],
      // Issue 13: named once and explained once ("spark:all spark:all is never issued" before).
      [{ client_id: 'cli', scope: 'spark:all' }, /^Refused scopes: spark:all is never issued[^]*$/],
      [
        { client_id: 'cli', scope: 'spark-admin:people_read spark:all' },
        /^Refused scopes: spark:all is never issued(?![^]*spark:all)/,
      ],
      [{ client_id: 'cli', scope: 'not a scope' }, /not/],
      [
        { client_id: 'cli', scope: 'spark-admin:people_write' },
        /spark-admin:people_write.*not configured/,
      ],
      [{ client_id: 'reader', scope: 'spark-admin:people_read' }, /spark-admin:people_read/],
      [{ client_id: 'cli', scope: '' }, /at least one scope/],
      [{ client_id: 'cli' }, /at least one scope/],
    ];
    for (const [form, description] of cases) {
      assertError(await post(dev, form), 400, 'invalid_scope', description);
    }
    // Within the lists: fine.
    assert.equal(
      (await post(dev, { client_id: 'reader', scope: 'spark-admin:licenses_read' })).status,
      200,
    );
    assert.equal(
      (await post(dev, { client_id: 'cli', scope: 'spark-admin:devices_read spark:kms' })).status,
      200,
    );
  });

  test('unknown client: invalid_client, 400 without credentials and 401 with Basic', async () => {
    const { deviceCode } = await handoff();
    const noCreds = await post(dev, { client_id: 'nobody', scope: 'spark-admin:people_read' });
    assertError(noCreds, 400, 'invalid_client', /nobody/);
    assert.equal(noCreds.headers.get('www-authenticate'), null);
    const withBasic = await post(
      dev,
      { scope: 'spark-admin:people_read' },
      { authorization: basic('nobody', 'whatever-secret') },
    );
    assertError(withBasic, 401, 'invalid_client');
    assert.match(withBasic.headers.get('www-authenticate') ?? '', /^Basic /);
    assertError(
      await post(tok, { grant_type: DEVICE_GRANT, client_id: 'nobody', device_code: deviceCode }),
      400,
      'invalid_client',
    );
    const tokBasic = await post(
      tok,
      { grant_type: DEVICE_GRANT, device_code: deviceCode },
      { authorization: basic('nobody', 'x') },
    );
    assertError(tokBasic, 401, 'invalid_client');
    assert.match(tokBasic.headers.get('www-authenticate') ?? '', /^Basic /);
    assertError(
      await post(tok, { grant_type: DEVICE_GRANT, device_code: deviceCode }),
      400,
      'invalid_client',
      /client_id/,
    );
    assertError(
      await post(tok, { grant_type: 'refresh_token', client_id: 'nobody', refresh_token: 'x' }),
      400,
      'invalid_client',
    );
  });

  test('confidential client must authenticate; client_secret_basic and client_secret_post both work', async () => {
    const scope = 'spark-admin:people_read';
    // Device authorization.
    assertError(await post(dev, { client_id: 'ci', scope }), 401, 'invalid_client', /confidential/);
    assertError(
      await post(dev, { client_id: 'ci', client_secret: 'wrong-secret-0123456789', scope }),
      401,
      'invalid_client',
    );
    assertError(
      await post(dev, { scope }, { authorization: basic('ci', 'wrong-secret-0123456789') }),
      401,
      'invalid_client',
    );
    assertError(
      await post(
        dev,
        { client_id: 'ci', client_secret: CI_SECRET, scope },
        { authorization: basic('ci', CI_SECRET) },
      ),
      400,
      'invalid_request',
    );
    const viaPost = await post(dev, { client_id: 'ci', client_secret: CI_SECRET, scope });
    assert.equal(viaPost.status, 200, JSON.stringify(viaPost.json));
    const viaBasic = await post(dev, { scope }, { authorization: basic('ci', CI_SECRET) });
    assert.equal(viaBasic.status, 200, JSON.stringify(viaBasic.json));

    // Token endpoint: authentication comes before anything else.
    const deviceCode = String(viaBasic.json.device_code);
    const poll = (extra: Record<string, string>, headers: Record<string, string> = {}) =>
      post(tok, { grant_type: DEVICE_GRANT, device_code: deviceCode, ...extra }, headers);
    assertError(await poll({ client_id: 'ci' }), 401, 'invalid_client');
    assertError(
      await poll({ client_id: 'ci', client_secret: 'wrong-secret-0123456789' }),
      401,
      'invalid_client',
    );
    assertError(
      await poll({}, { authorization: basic('ci', 'wrong-secret-0123456789') }),
      401,
      'invalid_client',
    );
    assertError(await poll({ client_id: 'cli' }), 400, 'invalid_grant', undefined);
    assertError(
      await poll({ client_id: 'ci', client_secret: CI_SECRET }),
      400,
      'authorization_pending',
    );
    assert.equal((await approveHandoff(srv.url, String(viaBasic.json.user_code))).status, 200);
    await sleep(1000);
    const tokens = await poll({}, { authorization: basic('ci', CI_SECRET) });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));

    // Refresh as the confidential client: needs the secret too.
    const refresh = (extra: Record<string, string>, headers: Record<string, string> = {}) =>
      post(
        tok,
        { grant_type: 'refresh_token', refresh_token: String(tokens.json.refresh_token), ...extra },
        headers,
      );
    assertError(await refresh({ client_id: 'ci' }), 401, 'invalid_client');
    const refreshed = await refresh({}, { authorization: basic('ci', CI_SECRET) });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    assert.notEqual(refreshed.json.refresh_token, tokens.json.refresh_token, 'rotated');
    assert.equal(refreshed.json.access_token, tokens.json.access_token, 'still young');
  });

  test('a confidential client drives the whole flow with openid-client and client_secret_basic', async () => {
    const oc = await import('openid-client');
    const config = await oc.discovery(
      new URL(srv.url),
      'ci',
      undefined,
      oc.ClientSecretBasic(CI_SECRET),
      {
        execute: [oc.allowInsecureRequests],
        algorithm: 'oauth2',
      },
    );
    const auth = await oc.initiateDeviceAuthorization(config, {
      scope: 'spark-admin:devices_read',
    });
    const polling = oc.pollDeviceAuthorizationGrant(config, auth, undefined, {
      signal: AbortSignal.timeout(15_000),
    });
    const page = await openApproval(srv.url, auth.user_code);
    assert.match(page.page.body, /CI pipeline/);
    assert.equal((await approveHandoff(srv.url, auth.user_code)).status, 200);
    const tokens = await polling;
    assert.equal(tokens.scope, 'spark-admin:devices_read spark:people_read');
    assert.ok(tokens.access_token.length > 20);
  });

  test('refresh_token grant: a fresh Webex access token on request; a bad refresh token is invalid_grant telling to run the device flow again', async () => {
    const { deviceCode, userCode } = await handoff();
    await approveHandoff(srv.url, userCode);
    const tokens = await pollToken(srv.url, { device_code: deviceCode });
    assert.equal(tokens.status, 200);
    const calls = srv.sandbox.calls.refresh;
    const ok = await post(tok, {
      grant_type: 'refresh_token',
      client_id: 'cli',
      refresh_token: String(tokens.json.refresh_token),
      fresh_access_token: 'true',
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(srv.sandbox.calls.refresh, calls + 1);
    for (const k of [
      'access_token',
      'token_type',
      'expires_in',
      'refresh_token',
      'refresh_token_expires_in',
      'scope',
    ])
      assert.ok(k in ok.json, k);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal(ok.headers.get('pragma'), 'no-cache');
    const me = await fetch(`${srv.sandboxUrl}/v1/people/me`, {
      headers: { authorization: `Bearer ${String(ok.json.access_token)}` },
    });
    assert.equal(me.status, 200);

    const bad = await post(tok, {
      grant_type: 'refresh_token',
      client_id: 'cli',
      refresh_token: 'revoked-or-made-up',
    });
    assertError(bad, 400, 'invalid_grant', /device flow.*again|again.*device flow/i);
    assert.equal(bad.headers.get('pragma'), 'no-cache');
  });
});

describe('static mode', () => {
  let srv: TestServer;
  const SCOPES = 'spark-admin:people_read spark-admin:licenses_read';
  beforeAll(async () => {
    srv = await startTestServer({
      env: { SCOPES_MODE: 'static', SCOPES, DEVICE_POLL_INTERVAL_SECONDS: '1' },
    });
  });
  afterAll(() => srv.close());

  test('grants exactly SCOPES, whatever subset is asked; anything else is invalid_scope', async () => {
    const md = (await (
      await fetch(`${srv.url}/.well-known/oauth-authorization-server`)
    ).json()) as { scopes_supported: string[] };
    assert.deepEqual(md.scopes_supported, SCOPES.split(' '));
    const dev = `${srv.url}/oauth2/device_authorization`;
    assertError(
      await post(dev, { client_id: 'cli', scope: 'spark-admin:people_write' }),
      400,
      'invalid_scope',
      /spark-admin:people_write/,
    );
    assertError(
      await post(dev, { client_id: 'cli', scope: 'spark-admin:people_read spark:all' }),
      400,
      'invalid_scope',
      /spark:all/,
    );
    assert.equal(
      (await post(dev, { client_id: 'cli' })).status,
      200,
      'no scope asked: the static ones',
    );

    const a = await requestHandoff(srv.url, {
      client_id: 'cli',
      scope: 'spark-admin:licenses_read',
    });
    assert.equal(a.status, 200);
    const { page } = await openApproval(srv.url, String(a.json.user_code));
    assert.match(page.body, /spark-admin:people_read/);
    assert.match(page.body, /spark-admin:licenses_read/);
    assert.equal((await approveHandoff(srv.url, String(a.json.user_code))).status, 200);
    assert.equal(
      srv.sandbox.lastAuthorize?.get('scope'),
      SCOPES,
      'Webex is asked for exactly SCOPES',
    );
    const tokens = await pollToken(srv.url, { device_code: String(a.json.device_code) });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
    assert.equal(tokens.json.scope, SCOPES);
  });
});

describe('short lifetimes and limits', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      env: {
        DEVICE_CODE_TTL_SECONDS: '1',
        DEVICE_POLL_INTERVAL_SECONDS: '1',
        RATE_LIMIT_DEVICE_AUTHORIZATIONS: '4',
      },
    });
  });
  afterAll(() => srv.close());

  test('expired_token after expiry (plain and waiting polls), logged as handoff_expired', async () => {
    const a = await requestHandoff(srv.url);
    assert.equal(a.json.expires_in, 1);
    await sleep(1100);
    assertError(
      await pollToken(srv.url, { device_code: String(a.json.device_code) }),
      400,
      'expired_token',
    );

    // A poll that asks to wait longer than the handoff lives is answered when it expires.
    const b = await requestHandoff(srv.url);
    const t0 = Date.now();
    const waited = await pollToken(srv.url, {
      device_code: String(b.json.device_code),
      wait: '10',
    });
    const ms = Date.now() - t0;
    assertError(waited, 400, 'expired_token');
    assert.ok(ms < 2500, `the waiting poll returned after ${ms} ms, not at the end of its wait`);

    // Polling an expired handoff again still says so, without logging the expiry again.
    assertError(
      await pollToken(srv.url, { device_code: String(a.json.device_code) }),
      400,
      'expired_token',
    );
    const events = srv.logs
      .map((l) => JSON.parse(l) as { event?: string })
      .filter((e) => e.event === 'handoff_expired');
    assert.equal(events.length, 2, 'each expired handoff is logged once');
  });

  test('device authorization requests are rate-limited per address (429 with Retry-After)', async () => {
    // The first test used 2 of the 4 allowed requests.
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await requestHandoff(srv.url));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 429],
    );
    const limited = answers[2]!;
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(limited.json.error, 'rate_limited');
  });
});
