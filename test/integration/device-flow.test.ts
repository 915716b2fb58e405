/**
 * Issue 3, the script handoff end to end: a standard RFC 8628 client library (openid-client)
 * against the running service with the sandbox as Webex, the admin approving over HTTP with
 * a cookie jar; refresh through the service; metadata; no-store headers; exactly-once
 * delivery; nothing in clear in Redis; the audit trail and clean logs.
 */
import { SANDBOX_ORG_UUID } from '../../src/sandbox/sandbox';
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { Sealer } from '../../src/crypto';
import { OAuthError } from '../../src/errors';
import { HandoffWaiters, handoffIdFor, pollHandoff } from '../../src/flows/device';
import { RateLimiter } from '../../src/flows/rate-limit';
import { createMetrics } from '../../src/metrics';
import type { GateSpec, Store } from '../../src/store/store';
import { SCOPE_CATALOG } from '../../src/webex/scopes';
import type { WebexClient } from '../../src/webex/client';
import { approveHandoff, denyHandoff, pollToken, requestHandoff } from '../helpers/admin';
import { CookieBrowser } from '../helpers/http';
import { dumpPrefix } from '../helpers/redis';
import { captureLogger, startTestServer, type TestServer } from '../helpers/server';

const TOKEN_PREFIX = 'FLOWTK';
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    env: { DEVICE_POLL_INTERVAL_SECONDS: '1', RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000' },
    sandboxOptions: { tokenPrefix: TOKEN_PREFIX },
  });
});
afterAll(() => srv.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every secret of one handoff, in every form a careless implementation might store or log. */
function secretForms(s: {
  deviceCode: string;
  userCode: string;
  accessToken?: string;
  refreshToken?: string;
}): string[] {
  const out = [
    s.deviceCode,
    s.userCode,
    s.userCode.replace('-', ''),
    s.userCode.toLowerCase(),
    s.userCode.replace('-', '').toLowerCase(),
  ];
  if (s.accessToken) out.push(s.accessToken);
  if (s.refreshToken) out.push(s.refreshToken);
  return out;
}

async function assertNothingInClear(secrets: string[], what: string): Promise<Map<string, string>> {
  const dump = await dumpPrefix(srv.redis!.url, srv.redis!.prefix);
  assert.ok(dump.size > 0, 'the scan must see the service keys (wrong prefix?)');
  for (const [key, value] of dump) {
    for (const secret of [...secrets, TOKEN_PREFIX]) {
      assert.ok(!key.includes(secret), `${what}: Redis key ${key} contains a secret in clear`);
      assert.ok(!value.includes(secret), `${what}: the value of ${key} contains a secret in clear`);
    }
  }
  return dump;
}

test('openid-client (RFC 8628, unmodified) gets tokens while an admin approves over HTTP; refresh goes through the service', async () => {
  const oc = await import('openid-client');
  const config = await oc.discovery(new URL(srv.url), 'cli', undefined, oc.None(), {
    execute: [oc.allowInsecureRequests],
    algorithm: 'oauth2',
  });
  assert.equal(
    config.serverMetadata().device_authorization_endpoint,
    `${srv.url}/oauth2/device_authorization`,
  );

  const scope = 'spark-admin:people_read spark-admin:licenses_read';
  const auth = await oc.initiateDeviceAuthorization(config, { scope });
  assert.match(auth.user_code, USER_CODE);
  assert.match(auth.device_code, /^[A-Za-z0-9_-]{43,}$/, 'device_code carries at least 256 bits');
  assert.equal(auth.verification_uri, `${srv.url}/device`);
  assert.equal(auth.verification_uri_complete, `${srv.url}/device?user_code=${auth.user_code}`);
  assert.equal(auth.expires_in, 600);
  assert.equal(auth.interval, 1);

  const polling = oc.pollDeviceAuthorizationGrant(config, auth, undefined, {
    signal: AbortSignal.timeout(20_000),
  });
  const browser = new CookieBrowser();
  const calls = srv.sandbox.calls.token;
  const done = await approveHandoff(srv.url, auth.user_code, { browser });
  assert.equal(done.status, 200, done.body.slice(0, 400));
  assert.match(done.body, /Approved for webex-token CLI/);
  assert.equal(
    srv.sandbox.calls.token,
    calls + 1,
    'the approval exchanged exactly one code at Webex',
  );

  const tokens = await polling;
  assert.ok(tokens.access_token.startsWith(`${TOKEN_PREFIX}_AT_`), tokens.access_token);
  // REFRESH_TOKENS=managed: a service refresh token; Webex's stays sealed in the grant.
  assert.match(tokens.refresh_token ?? '', /^wst_rt_[A-Za-z0-9_-]{43}$/);
  assert.equal(tokens.token_type, 'bearer');
  assert.equal(tokens.expires_in, 1209599);
  assert.equal(tokens.scope, scope);
  // The sooner of Webex's 90 days and GRANT_IDLE_DAYS (30) unused.
  assert.equal((tokens as unknown as Record<string, unknown>).refresh_token_expires_in, 2592000);
  assert.ok(
    !done.body.includes(tokens.access_token) && !done.body.includes(tokens.refresh_token!),
    'the admin never sees the tokens',
  );

  // The library's own refresh, asking for a new access token: the service calls Webex with
  // the sealed Webex refresh token and its secret, and rotates the service refresh token.
  const refreshes = srv.sandbox.calls.refresh;
  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!, {
    fresh_access_token: 'true',
  });
  assert.equal(srv.sandbox.calls.refresh, refreshes + 1);
  assert.ok(refreshed.access_token.startsWith(`${TOKEN_PREFIX}_AT_`));
  assert.notEqual(refreshed.access_token, tokens.access_token);
  assert.match(refreshed.refresh_token ?? '', /^wst_rt_/);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'rotated');
  assert.equal(refreshed.scope, scope);
  const me = await fetch(`${srv.sandboxUrl}/v1/people/me`, {
    headers: { authorization: `Bearer ${refreshed.access_token}` },
  });
  assert.equal(me.status, 200, 'the refreshed access token works at Webex');

  // A second delivery of the same device code is impossible.
  await sleep(1100);
  const again = await pollToken(srv.url, { device_code: auth.device_code });
  assert.equal(again.status, 400);
  assert.equal(again.json.error, 'invalid_grant');

  // Nothing of this flow is in Redis in clear, nor in any log line.
  const state = new URL(
    browser.visited.find((u) => u.startsWith(`${srv.sandboxUrl}/v1/authorize`))!,
  ).searchParams.get('state')!;
  const cookieValues = [...browser.cookies.values()].filter((v) => v.length >= 16);
  const secrets = [
    ...secretForms({
      deviceCode: auth.device_code,
      userCode: auth.user_code,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token!,
    }),
    refreshed.access_token,
    refreshed.refresh_token!,
    ...srv.sandbox.issued.flatMap((t) => [t.access_token, t.refresh_token]),
    state,
    ...cookieValues,
  ];
  await assertNothingInClear(secrets, 'after a library-driven flow');
  assert.ok(srv.logs.length > 10, 'the service logged its requests');
  for (const line of srv.logs) {
    for (const secret of [...secrets, TOKEN_PREFIX, 'test-integration-secret']) {
      assert.ok(!line.includes(secret), `a log line leaks a secret: ${line.slice(0, 300)}`);
    }
  }
});

test('Redis holds the approved tokens only sealed, then forgets the handoff after delivery', async () => {
  const auth = await requestHandoff(srv.url);
  assert.equal(auth.status, 200);
  const deviceCode = String(auth.json.device_code);
  const userCode = String(auth.json.user_code);
  const done = await approveHandoff(srv.url, userCode);
  assert.equal(done.status, 200, done.body.slice(0, 300));

  // Between approval and delivery: the tokens sit in the store, AES-GCM sealed.
  const before = await assertNothingInClear(
    secretForms({ deviceCode, userCode }),
    'between approval and delivery',
  );
  const h = handoffIdFor({ sealer: new Sealer(srv.config.encryptionKeys) }, deviceCode);
  const sealed = before.get(`${srv.redis!.prefix}result:{${h}}`);
  assert.ok(sealed, 'the sealed result waits for the script under the device code hash');
  assert.match(
    sealed,
    /^v1\.[0-9a-f]{8}\.[\w-]+\.[\w-]+\.[\w-]+$/,
    'the waiting result is a sealed value',
  );

  const tokens = await pollToken(srv.url, { device_code: deviceCode });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  const accessToken = String(tokens.json.access_token);
  const refreshToken = String(tokens.json.refresh_token);

  // Neither the service refresh token nor Webex's (sealed in the grant) is in clear.
  const webexRefresh = srv.sandbox.issued.at(-1)!.refresh_token;
  const afterDump = await assertNothingInClear(
    [...secretForms({ deviceCode, userCode, accessToken, refreshToken }), webexRefresh],
    'after delivery',
  );
  const leftovers = [...afterDump.keys()].filter((k) => k.includes(h));
  assert.deepEqual(leftovers, [], 'the delivered handoff is forgotten');
});

test('token responses carry Cache-Control: no-store and Pragma: no-cache (success and errors)', async () => {
  const auth = await requestHandoff(srv.url);
  assert.equal(auth.headers.get('cache-control'), 'no-store');
  assert.equal(auth.headers.get('pragma'), 'no-cache');
  const deviceCode = String(auth.json.device_code);

  const pending = await pollToken(srv.url, { device_code: deviceCode });
  assert.equal(pending.json.error, 'authorization_pending');
  assert.equal(pending.headers.get('cache-control'), 'no-store');
  assert.equal(pending.headers.get('pragma'), 'no-cache');
  assert.match(pending.headers.get('content-type') ?? '', /^application\/json/);

  await approveHandoff(srv.url, String(auth.json.user_code));
  await sleep(1000);
  const ok = await pollToken(srv.url, { device_code: deviceCode });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('cache-control'), 'no-store');
  assert.equal(ok.headers.get('pragma'), 'no-cache');
  assert.match(ok.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(ok.json).sort(), [
    'access_token',
    'expires_in',
    'refresh_token',
    'refresh_token_expires_in',
    'scope',
    'token_type',
    'webex_scoped_tokens',
  ]);
  // Who approved, in the service's namespaced extension (the sandbox's admin signs in).
  // Who approved, and the grant the tokens belong to, in the service's namespaced extension.
  const ext = ok.json.webex_scoped_tokens as Record<string, unknown>;
  assert.deepEqual(ext.approved_by, { name: 'Ada Admin', email: 'ada.admin@sandbox.example' });
  assert.match(String(ext.grant_id), /^[A-Za-z0-9_-]{22}$/);

  const refreshed = await fetch(`${srv.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: 'cli',
      refresh_token: String(ok.json.refresh_token),
    }),
  });
  assert.equal(refreshed.status, 200);
  assert.equal(refreshed.headers.get('cache-control'), 'no-store');
  assert.equal(refreshed.headers.get('pragma'), 'no-cache');
});

test('RFC 8414 metadata publishes every machine endpoint and what they accept', async () => {
  const res = await fetch(`${srv.url}/.well-known/oauth-authorization-server`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const md = (await res.json()) as Record<string, unknown>;
  // RFC 8414 §2 / §3.3: issuer is the identifier the document was fetched under.
  assert.equal(md.issuer, srv.url);
  assert.equal(md.issuer, srv.config.publicUrl);
  assert.ok(!/[?#]/.test(String(md.issuer)));
  assert.equal(md.token_endpoint, `${srv.url}/oauth2/token`);
  assert.equal(md.device_authorization_endpoint, `${srv.url}/oauth2/device_authorization`);
  assert.ok(Array.isArray(md.response_types_supported), 'response_types_supported is REQUIRED');
  assert.equal(
    md.authorization_endpoint,
    undefined,
    'no grant here uses an authorization endpoint',
  );
  assert.deepEqual([...(md.grant_types_supported as string[])].sort(), [
    'refresh_token',
    'urn:ietf:params:oauth:grant-type:device_code',
  ]);
  assert.deepEqual([...(md.token_endpoint_auth_methods_supported as string[])].sort(), [
    'client_secret_basic',
    'client_secret_post',
    'none',
  ]);
  assert.deepEqual(
    md.scopes_supported,
    SCOPE_CATALOG.map((s) => s.scope),
  );
  assert.ok(!(md.scopes_supported as string[]).includes('spark:all'));
  // The published endpoints are the ones that answer.
  const dev = await fetch(String(md.device_authorization_endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'client_id=cli&scope=spark-admin:people_read',
  });
  assert.equal(dev.status, 200);
  const tok = await fetch(String(md.token_endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password',
  });
  assert.equal(((await tok.json()) as { error: string }).error, 'unsupported_grant_type');
});

test('exactly-once over HTTP: 50 concurrent polls after approval, exactly one 200', async () => {
  const auth = await requestHandoff(srv.url);
  const deviceCode = String(auth.json.device_code);
  const done = await approveHandoff(srv.url, String(auth.json.user_code));
  assert.equal(done.status, 200);
  const delivered = async () =>
    (await srv.metrics.handoffs.get()).values.find((v) => v.labels.event === 'delivered')?.value ??
    0;
  const before = await delivered();

  const answers = await Promise.all(
    Array.from({ length: 50 }, () => pollToken(srv.url, { device_code: deviceCode })),
  );
  const ok = answers.filter((a) => a.status === 200);
  assert.equal(ok.length, 1, `exactly one success, got ${ok.length}`);
  assert.ok(String(ok[0]!.json.access_token).startsWith(`${TOKEN_PREFIX}_AT_`));
  for (const a of answers.filter((x) => x.status !== 200)) {
    assert.equal(a.status, 400);
    assert.ok(['slow_down', 'invalid_grant'].includes(String(a.json.error)), String(a.json.error));
    assert.equal(a.json.access_token, undefined);
  }
  assert.equal(await delivered(), before + 1, 'one delivery counted');

  await sleep(1100);
  const late = await pollToken(srv.url, { device_code: deviceCode });
  assert.equal(late.status, 400);
  assert.equal(late.json.error, 'invalid_grant');
});

test('exactly-once without the poll gate: 50 concurrent pollHandoff calls share one atomic take', async () => {
  const auth = await requestHandoff(srv.url);
  const deviceCode = String(auth.json.device_code);
  assert.equal((await approveHandoff(srv.url, String(auth.json.user_code))).status, 200);

  // A store whose poll-interval gate always opens: only the atomic take can stop double delivery.
  const real = srv.store;
  const gateless = new Proxy(real, {
    get(target, prop) {
      if (prop === 'readAndOpenGate') {
        return async (keys: readonly string[], gate: GateSpec) => {
          const { values } = await target.readAndOpenGate(keys, gate);
          return { values, opened: true };
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Store;
  const metrics = createMetrics({ defaultMetrics: false });
  const deps = {
    config: srv.config,
    store: gateless,
    sealer: new Sealer(srv.config.encryptionKeys),
    webex: {} as WebexClient,
    logger: captureLogger([]),
    metrics,
    limiter: new RateLimiter(gateless, metrics, new Sealer(srv.config.encryptionKeys).hasher),
    workload: srv.flow.workload,
    now: Date.now,
  };
  const waiters = new HandoffWaiters(deps);
  const client = srv.config.device.clients.find((c) => c.id === 'cli')!;
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, () =>
      pollHandoff(deps, waiters, { deviceCode, client, waitSeconds: 0 }),
    ),
  );
  const ok = results.filter((r) => r.status === 'fulfilled');
  assert.equal(ok.length, 1, `exactly one delivery, got ${ok.length}`);
  for (const r of results) {
    if (r.status === 'rejected') {
      assert.ok(r.reason instanceof OAuthError, String(r.reason));
      assert.equal((r.reason as OAuthError).code, 'invalid_grant');
    }
  }
  waiters.releaseAll();
});

test('audit trail: requested, approved, delivered, grant_created, denied and grant_refreshed; never a secret', async () => {
  const mark = srv.logs.length;
  const events = () =>
    srv.logs
      .slice(mark)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => typeof l.event === 'string');
  const auth = await requestHandoff(srv.url, {
    client_id: 'cli',
    scope: 'spark-admin:people_read',
  });
  const deviceCode = String(auth.json.device_code);
  await approveHandoff(srv.url, String(auth.json.user_code));
  const tokens = await pollToken(srv.url, { device_code: deviceCode });
  assert.equal(tokens.status, 200);
  const refreshed = await fetch(`${srv.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: 'cli',
      refresh_token: String(tokens.json.refresh_token),
    }),
  });
  assert.equal(refreshed.status, 200);

  const denied = await requestHandoff(srv.url);
  assert.equal((await denyHandoff(srv.url, String(denied.json.user_code))).status, 200);

  const ev = events();
  const requested = ev.find((e) => e.event === 'handoff_requested');
  assert.ok(requested, 'handoff_requested logged');
  assert.equal(requested.client, 'cli');
  assert.deepEqual(requested.scopes, ['spark-admin:people_read']);
  assert.equal(typeof requested.address, 'string');
  const approved = ev.find((e) => e.event === 'handoff_approved');
  assert.ok(approved, 'handoff_approved logged');
  assert.equal(approved.by, 'ada.admin@sandbox.example');
  assert.equal(approved.orgId, SANDBOX_ORG_UUID);
  assert.ok(
    ev.some((e) => e.event === 'handoff_delivered' && e.client === 'cli'),
    'handoff_delivered logged',
  );
  assert.ok(
    ev.some((e) => e.event === 'handoff_denied' && e.reason === 'declined'),
    'handoff_denied logged',
  );
  const created = ev.find((e) => e.event === 'grant_created');
  assert.ok(created, 'grant_created logged');
  assert.equal(created.by, 'ada.admin@sandbox.example');
  assert.ok(
    ev.some(
      (e) => e.event === 'grant_refreshed' && e.client === 'cli' && e.grant === created.grant,
    ),
    'grant_refreshed logged',
  );

  const secrets = [
    deviceCode,
    String(auth.json.user_code),
    String(auth.json.user_code).replace('-', ''),
    String(denied.json.device_code),
    String(tokens.json.access_token),
    String(tokens.json.refresh_token),
    TOKEN_PREFIX,
  ];
  for (const line of srv.logs)
    for (const s of secrets)
      assert.ok(!line.includes(s), `log line leaks a secret: ${line.slice(0, 300)}`);
});
