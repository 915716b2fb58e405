/**
 * Issue 16, grants in REFRESH_TOKENS=managed (the default): the script gets Webex's access
 * token and a rotating service refresh token; the grant behind it is bound to its client,
 * rotated at every use, revoked on reuse, rate-limited, revocable (RFC 7009, through a
 * third-party client library) and listed for the console.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  getGrant,
  grantsVisibleTo,
  listGrantsForApprover,
  listGrantsForOrg,
  mayManage,
  revokeGrantAs,
} from '../../src/flows/grants';
import {
  CLI,
  MANY_HANDOFFS,
  SERVICE_TOKEN,
  deliveredTokens,
  events,
  refresh,
} from '../helpers/grants';
import { dumpPrefix } from '../helpers/redis';
import { SANDBOX_ORG_UUID } from '../../src/sandbox/sandbox';
import { startTestServer, type TestServer } from '../helpers/server';

const NIGHTLY = { client_id: 'nightly', client_secret: 'nightly-secret-0123456789abcdef' };
const CLIENTS = JSON.stringify([
  { id: 'cli', name: 'webex-token CLI' },
  { id: 'nightly', name: 'Nightly report', secret: NIGHTLY.client_secret },
]);
const ADMIN = { email: 'ada.admin@sandbox.example', orgId: SANDBOX_ORG_UUID };

let srv: TestServer;
before(async () => {
  srv = await startTestServer({
    env: {
      ...MANY_HANDOFFS,
      DEVICE_CLIENTS: CLIENTS,
      RATE_LIMIT_REFRESHES: '1000',
      CONSOLE_ADMINS: 'boss@sandbox.example',
    },
    sandboxOptions: { tokenPrefix: 'GRANTTK' },
  });
});
after(() => srv?.close());

const grantIdOf = (json: Record<string, unknown>) =>
  String((json.webex_scoped_tokens as Record<string, unknown>).grant_id);

async function counter(
  metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((n, v) => n + v.value, 0);
}

describe('delivery', () => {
  test("the script gets Webex's access token, the granted scope and a service refresh token", async () => {
    const tokens = await deliveredTokens(srv.url, {
      scope: 'spark-admin:people_read spark-admin:licenses_read',
    });
    assert.match(String(tokens.access_token), /^GRANTTK_AT_/);
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.expires_in, 1209599);
    assert.equal(tokens.scope, 'spark-admin:people_read spark-admin:licenses_read');
    assert.match(String(tokens.refresh_token), SERVICE_TOKEN);
    // Webex's refresh token lasts 90 days; an unused grant ends after GRANT_IDLE_DAYS (30).
    assert.equal(tokens.refresh_token_expires_in, 30 * 24 * 3600);
    const webexRefresh = srv.sandbox.issued.at(-1)!.refresh_token;
    assert.ok(!JSON.stringify(tokens).includes(webexRefresh), "Webex's refresh token stays here");

    const grant = await getGrant(srv.flow, grantIdOf(tokens));
    assert.ok(grant);
    assert.equal(grant.state, 'active');
    assert.equal(grant.mode, 'managed');
    assert.deepEqual(grant.client, { id: 'cli', name: 'webex-token CLI' });
    assert.deepEqual(grant.scopes, ['spark-admin:people_read', 'spark-admin:licenses_read']);
    assert.deepEqual(grant.approver, { name: 'Ada Admin', ...ADMIN });
    assert.equal(grant.requester.address, '127.0.0.1');
    assert.equal(grant.requester.workload, null);
    assert.equal(grant.useCount, 0);
    assert.equal(grant.lastUsedAt, null);
    assert.equal(events(srv.logs, 'grant_created').at(-1)?.grant, grant.id);
  });
});

describe('refresh with rotation', () => {
  test('refresh twice works; the old token then fails and revokes the grant; the newest fails too', async () => {
    const tokens = await deliveredTokens(srv.url);
    const t1 = String(tokens.refresh_token);
    const webexCalls = srv.sandbox.calls.refresh;

    const r1 = await refresh(srv.url, t1);
    assert.equal(r1.status, 200, JSON.stringify(r1.json));
    const t2 = String(r1.json.refresh_token);
    assert.match(t2, SERVICE_TOKEN);
    assert.notEqual(t2, t1);
    assert.equal(r1.json.access_token, tokens.access_token, 'a young access token is reused');
    assert.equal(r1.json.scope, 'spark-admin:people_read');
    assert.equal(r1.json.token_type, 'Bearer');
    assert.ok(Number(r1.json.expires_in) > 1209000 && Number(r1.json.expires_in) <= 1209599);
    assert.equal(r1.json.refresh_token_expires_in, 30 * 24 * 3600);
    assert.equal(r1.headers.get('cache-control'), 'no-store');

    const r2 = await refresh(srv.url, t2);
    assert.equal(r2.status, 200, JSON.stringify(r2.json));
    const t3 = String(r2.json.refresh_token);
    assert.equal(srv.sandbox.calls.refresh, webexCalls, 'no call to Webex for a young token');

    const reusesBefore = await counter(srv.metrics.grantReuseDetections);
    const reuse = await refresh(srv.url, t1);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.json.error, 'invalid_grant');
    const detected = events(srv.logs, 'grant_reuse_detected').at(-1);
    assert.equal(detected?.grant, grantIdOf(tokens));
    assert.equal(detected?.address, '127.0.0.1');
    assert.equal(detected?.client, 'cli');
    assert.equal(await counter(srv.metrics.grantReuseDetections), reusesBefore + 1);

    const newest = await refresh(srv.url, t3);
    assert.equal(newest.status, 400, 'the whole grant was revoked');
    assert.equal(newest.json.error, 'invalid_grant');
    const grant = await getGrant(srv.flow, grantIdOf(tokens));
    assert.equal(grant?.state, 'revoked');
    assert.equal(grant?.revoked?.reason, 'reuse_detected');
    assert.equal(grant?.useCount, 2);
    assert.equal(srv.sandbox.calls.refresh, webexCalls, 'none of this reached Webex');
  });

  test('fresh_access_token=true asks Webex for a new access token', async () => {
    const tokens = await deliveredTokens(srv.url);
    const calls = srv.sandbox.calls.refresh;
    const r = await refresh(srv.url, String(tokens.refresh_token), {
      extra: { fresh_access_token: 'true' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(srv.sandbox.calls.refresh, calls + 1);
    assert.notEqual(r.json.access_token, tokens.access_token);
    assert.match(String(r.json.access_token), /^GRANTTK_AT_/);
    const bad = await refresh(srv.url, String(r.json.refresh_token), {
      extra: { fresh_access_token: 'maybe' },
    });
    assert.equal(bad.json.error, 'invalid_request');
  });

  test("another client's token is invalid_grant, and the token still works for its own client", async () => {
    const tokens = await deliveredTokens(srv.url);
    const theirs = await refresh(srv.url, String(tokens.refresh_token), { client: NIGHTLY });
    assert.equal(theirs.status, 400);
    assert.equal(theirs.json.error, 'invalid_grant');
    assert.equal(events(srv.logs, 'grant_refresh_failed').at(-1)?.reason, 'client_mismatch');
    const ours = await refresh(srv.url, String(tokens.refresh_token), { client: CLI });
    assert.equal(ours.status, 200, JSON.stringify(ours.json));

    const nightly = await deliveredTokens(srv.url, { client: NIGHTLY });
    const fromCli = await refresh(srv.url, String(nightly.refresh_token), { client: CLI });
    assert.equal(fromCli.json.error, 'invalid_grant');
    const own = await refresh(srv.url, String(nightly.refresh_token), { client: NIGHTLY });
    assert.equal(own.status, 200, JSON.stringify(own.json));
  });

  test('unknown tokens never reach Webex, and each refusal is audited', async () => {
    const calls = srv.sandbox.calls.refresh;
    const failed = events(srv.logs, 'grant_refresh_failed').length;
    const madeUp = [
      `wst_rt_${'A'.repeat(43)}`,
      'wst_rt_short',
      'GRANTTK_RT_not-one-the-sandbox-issued',
      srv.sandbox.issued[0]!.refresh_token, // a real Webex refresh token the script never held
      'x'.repeat(9000),
    ];
    for (let i = 0; i < 30; i++) madeUp.push(`made-up-${i}-${Math.random()}`);
    for (const token of madeUp) {
      const r = await refresh(srv.url, token);
      assert.equal(r.status, 400, token.slice(0, 40));
      assert.equal(r.json.error, 'invalid_grant');
    }
    assert.equal(srv.sandbox.calls.refresh, calls, 'not one call to Webex');
    const lines = events(srv.logs, 'grant_refresh_failed').slice(failed);
    assert.equal(lines.length, madeUp.length);
    assert.ok(lines.every((l) => l.reason === 'unknown_token' && l.address === '127.0.0.1'));
  });
});

describe('records that fail their check', () => {
  test('a pointer or grant moved under another key, or tampered with, counts as absent: invalid_grant, never a 5xx', async () => {
    const a = await deliveredTokens(srv.url);
    const b = await deliveredTokens(srv.url);
    const digest = (t: unknown) => srv.flow.sealer.hasher.digest('grant_refresh_token', String(t));
    const pointerA = await srv.store.get(`grant-rt:${digest(a.refresh_token)}`);
    assert.ok(pointerA, 'the pointer is stored under the keyed hash of the token');
    // B's key now holds A's (validly sealed) pointer: it was sealed for another key.
    await srv.store.set(`grant-rt:${digest(b.refresh_token)}`, pointerA, 60_000);
    const moved = await refresh(srv.url, String(b.refresh_token));
    assert.equal(moved.status, 400);
    assert.equal(moved.json.error, 'invalid_grant');
    // A grant record swapped for another grant's: absent too.
    const idA = grantIdOf(a);
    const recordB = await srv.store.get(`grant:${grantIdOf(b)}`);
    await srv.store.set(`grant:${idA}`, recordB!, 60_000);
    const swapped = await refresh(srv.url, String(a.refresh_token));
    assert.equal(swapped.status, 400);
    assert.equal(swapped.json.error, 'invalid_grant');
    assert.equal(await getGrant(srv.flow, idA), null);
  });
});

describe('concurrency', () => {
  test('50 concurrent refreshes of one token: exactly one succeeds; the grant ends revoked, nothing half-done', async () => {
    const tokens = await deliveredTokens(srv.url);
    const id = grantIdOf(tokens);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => refresh(srv.url, String(tokens.refresh_token))),
    );
    const ok = answers.filter((a) => a.status === 200);
    assert.equal(ok.length, 1, `exactly one success, got ${ok.length}`);
    assert.ok(
      answers.filter((a) => a.status !== 200).every((a) => a.json.error === 'invalid_grant'),
      JSON.stringify(answers.map((a) => a.json.error)),
    );
    // With REFRESH_REUSE_GRACE_SECONDS=0 the 49 others are reuse: the grant is revoked, so the
    // winner's new token fails too, and no pointer to a usable token is left in the store.
    const winner = await refresh(srv.url, String(ok[0]!.json.refresh_token));
    assert.equal(winner.json.error, 'invalid_grant');
    const grant = await getGrant(srv.flow, id);
    assert.equal(grant?.state, 'revoked');
    assert.equal(grant?.revoked?.reason, 'reuse_detected');
    assert.equal(grant?.useCount, 1);
    assert.equal(
      events(srv.logs, 'grant_revoked').filter((e) => e.grant === id).length,
      1,
      'revoked (and counted) once',
    );
    const dump = await dumpPrefix(srv.redis!.url, srv.redis!.prefix);
    const raw = await srv.store.get(`grant:${id}`);
    assert.ok(raw && dump.size > 0);
    const grantRecord = JSON.parse(srv.flow.sealer.open(raw, `grant:${id}|grant`)) as {
      webex: unknown;
      tokenDigest: string;
    };
    assert.equal(grantRecord.webex, null, "the revoked grant no longer holds Webex's tokens");
    assert.equal(await srv.store.get(`grant-rt:${grantRecord.tokenDigest}`), null);
  });

  test('with REFRESH_REUSE_GRACE_SECONDS the same client retrying gets the same answer', async () => {
    const graceful = await startTestServer({
      env: { ...MANY_HANDOFFS, REFRESH_REUSE_GRACE_SECONDS: '60', RATE_LIMIT_REFRESHES: '1000' },
      sandbox: { sandbox: srv.sandbox, url: srv.sandboxUrl, close: async () => undefined },
    });
    try {
      const tokens = await deliveredTokens(graceful.url);
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => refresh(graceful.url, String(tokens.refresh_token))),
      );
      const ok = answers.filter((a) => a.status === 200);
      const newTokens = new Set(ok.map((a) => a.json.refresh_token));
      assert.equal(newTokens.size, 1, 'one rotation; every success carries its answer');
      // The others arrived while the rotation was being written: told to retry in a second.
      for (const a of answers.filter((x) => x.status !== 200)) {
        assert.equal(a.status, 503, JSON.stringify(a.json));
        assert.equal(a.json.error, 'temporarily_unavailable');
        assert.equal(a.headers.get('retry-after'), '1');
      }
      const retry = await refresh(graceful.url, String(tokens.refresh_token));
      assert.equal(retry.status, 200);
      assert.equal(retry.json.refresh_token, [...newTokens][0]);
      const next = await refresh(graceful.url, String(retry.json.refresh_token));
      assert.equal(next.status, 200, 'the grant is intact');
      const other = await refresh(graceful.url, String(tokens.refresh_token), {
        client: { client_id: 'other' },
      });
      assert.equal(other.json.error, 'invalid_client', 'unknown clients never reach a grant');
    } finally {
      await graceful.close();
    }
  });
});

describe('rate limit', () => {
  test('refreshes are limited per client and address, known and unknown tokens alike', async () => {
    const limited = await startTestServer({
      env: { ...MANY_HANDOFFS, RATE_LIMIT_REFRESHES: '3' },
      sandbox: { sandbox: srv.sandbox, url: srv.sandboxUrl, close: async () => undefined },
    });
    try {
      const tokens = await deliveredTokens(limited.url);
      let token = String(tokens.refresh_token);
      for (let i = 0; i < 2; i++) {
        const r = await refresh(limited.url, token);
        assert.equal(r.status, 200);
        token = String(r.json.refresh_token);
      }
      assert.equal((await refresh(limited.url, `wst_rt_${'B'.repeat(43)}`)).status, 400);
      const over = await refresh(limited.url, token);
      assert.equal(over.status, 429);
      assert.ok(Number(over.headers.get('retry-after')) >= 1);
      const after = await refresh(limited.url, token);
      assert.equal(after.status, 429, 'still limited; and the token was not consumed');
    } finally {
      await limited.close();
    }
  });
});

describe('revocation (RFC 7009)', () => {
  test("openid-client's tokenRevocation revokes the grant; its refresh then fails", async () => {
    const oc = await import('openid-client');
    const config = await oc.discovery(new URL(srv.url), 'cli', undefined, oc.None(), {
      execute: [oc.allowInsecureRequests],
      algorithm: 'oauth2',
    });
    const tokens = await deliveredTokens(srv.url);
    const r1 = await refresh(srv.url, String(tokens.refresh_token));
    const current = String(r1.json.refresh_token);
    const before = await counter(srv.metrics.grantRevocations, { by: 'client' });
    await oc.tokenRevocation(config, current, { token_type_hint: 'refresh_token' });
    const after = await refresh(srv.url, current);
    assert.equal(after.json.error, 'invalid_grant');
    const grant = await getGrant(srv.flow, grantIdOf(tokens));
    assert.equal(grant?.state, 'revoked');
    assert.deepEqual(grant?.revoked?.by, { kind: 'client', clientId: 'cli', address: '127.0.0.1' });
    assert.equal(await counter(srv.metrics.grantRevocations, { by: 'client' }), before + 1);
    // Again, and with a made-up token: still 200 (RFC 7009 §2.2), nothing changes.
    await oc.tokenRevocation(config, current);
    await oc.tokenRevocation(config, `wst_rt_${'C'.repeat(43)}`);
    assert.equal(await counter(srv.metrics.grantRevocations, { by: 'client' }), before + 1);
  });

  test('another client cannot revoke with the token', async () => {
    const tokens = await deliveredTokens(srv.url);
    const res = await fetch(`${srv.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...NIGHTLY, token: String(tokens.refresh_token) }).toString(),
    });
    assert.equal(res.status, 200);
    assert.equal((await getGrant(srv.flow, grantIdOf(tokens)))?.state, 'active');
    assert.equal((await refresh(srv.url, String(tokens.refresh_token))).status, 200);
  });
});

describe('the console API', () => {
  test('lists by approver and by org; admins of the org see all, others their own; revoke with an actor', async () => {
    const tokens = await deliveredTokens(srv.url);
    const id = grantIdOf(tokens);
    const own = await listGrantsForApprover(srv.flow, 'ADA.admin@sandbox.example');
    assert.ok(own.some((g) => g.id === id));
    assert.ok(own.every((g) => g.approver.email === ADMIN.email));
    for (let i = 1; i < own.length; i++) assert.ok(own[i - 1]!.createdAt >= own[i]!.createdAt);
    assert.ok((await listGrantsForOrg(srv.flow, ADMIN.orgId)).some((g) => g.id === id));
    assert.deepEqual(await listGrantsForOrg(srv.flow, 'another-org'), []);

    const stranger = { email: 'eve@sandbox.example', orgId: ADMIN.orgId };
    const boss = { email: 'Boss@sandbox.example', orgId: ADMIN.orgId };
    const bossElsewhere = { email: 'boss@sandbox.example', orgId: 'another-org' };
    assert.deepEqual(await grantsVisibleTo(srv.flow, stranger), []);
    assert.ok((await grantsVisibleTo(srv.flow, boss)).some((g) => g.id === id));
    assert.ok((await grantsVisibleTo(srv.flow, ADMIN)).some((g) => g.id === id));
    const grant = (await getGrant(srv.flow, id))!;
    assert.equal(mayManage(srv.config, stranger, grant), false);
    assert.equal(mayManage(srv.config, bossElsewhere, grant), false);
    assert.equal(mayManage(srv.config, boss, grant), true);
    assert.equal(await getGrant(srv.flow, 'not an id'), null);

    assert.deepEqual(await revokeGrantAs(srv.flow, stranger, id, '192.0.2.1'), {
      outcome: 'forbidden',
    });
    assert.deepEqual(await revokeGrantAs(srv.flow, boss, 'A'.repeat(22), '192.0.2.1'), {
      outcome: 'not_found',
    });
    const done = await revokeGrantAs(srv.flow, boss, id, '192.0.2.7');
    assert.equal(done.outcome, 'revoked');
    assert.deepEqual(done.outcome === 'revoked' && done.grant.revoked?.by, {
      kind: 'admin',
      email: boss.email,
      address: '192.0.2.7',
    });
    assert.equal((await revokeGrantAs(srv.flow, boss, id, '192.0.2.7')).outcome, 'already_revoked');
    assert.equal(
      (await refresh(srv.url, String(tokens.refresh_token))).json.error,
      'invalid_grant',
    );
    // Revoked grants stay listed (with their state) so the console can show what happened.
    const listed = (await grantsVisibleTo(srv.flow, ADMIN)).find((g) => g.id === id);
    assert.equal(listed?.state, 'revoked');
    const audit = events(srv.logs, 'grant_revoked').find((e) => e.grant === id);
    assert.deepEqual(audit?.by, { kind: 'admin', email: boss.email, address: '192.0.2.7' });
  });

  test('the grants gauge counts active grants only', async () => {
    const count = async () => (await srv.metrics.grantsActive.get()).values[0]?.value ?? -1;
    const before = await count();
    const tokens = await deliveredTokens(srv.url);
    assert.equal(await count(), before + 1);
    await revokeGrantAs(srv.flow, ADMIN, grantIdOf(tokens), '127.0.0.1');
    assert.equal(await count(), before);
  });
});
