/**
 * Issue 16, grants as data that must last: a service restarted on the same Redis still
 * refreshes its grants, and so does one whose Redis came back from its append-only file; a
 * second instance with a narrower org allowlist refuses them; and Redis never holds Webex's
 * or the service's tokens in clear, after delivery or after a refresh.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { orgApiId } from '../../src/webex/org-id';
import { deliveredTokens, events, refresh, SERVICE_TOKEN } from '../helpers/grants';
import { dumpPrefix, startLocalRedis, uniquePrefix, type LocalRedisServer } from '../helpers/redis';
import { startSandbox, startTestServer, type RunningSandbox } from '../helpers/server';

const TOKEN_PREFIX = 'DURABLETK';
let sandbox: RunningSandbox;
before(async () => {
  sandbox = await startSandbox({ tokenPrefix: TOKEN_PREFIX });
});
after(() => sandbox?.close());

/** Every value and key under a prefix, with base64 pieces decoded too (encoded is not sealed). */
async function assertNoTokensInClear(
  url: string,
  prefix: string,
  tokens: string[],
  when: string,
): Promise<void> {
  const dump = await dumpPrefix(url, prefix);
  assert.ok(dump.size > 0, `${when}: the scan sees the service's keys`);
  const text = [...dump.keys(), ...dump.values()].join('\n');
  const decoded = [...dump.values()]
    .flatMap((v) => v.split(/[^A-Za-z0-9+/_=-]+/))
    .filter((piece) => piece.length >= 16)
    .map((piece) => Buffer.from(piece, 'base64url').toString('latin1'))
    .join('\n');
  for (const token of [...tokens, TOKEN_PREFIX, 'wst_rt_']) {
    assert.ok(!text.includes(token), `${when}: ${token.slice(0, 12)}… is in Redis in clear`);
    assert.ok(
      !decoded.includes(token),
      `${when}: ${token.slice(0, 12)}… is in Redis base64-encoded`,
    );
  }
}

describe('restarts', () => {
  test('stop the service, start it again on the same Redis: its grants still refresh', async () => {
    const prefix = uniquePrefix('grants-restart');
    const first = await startTestServer({ sandbox, redisPrefix: prefix });
    let tokens: Record<string, unknown>;
    try {
      tokens = await deliveredTokens(first.url);
    } finally {
      await first.close();
    }
    const second = await startTestServer({ sandbox, redisPrefix: prefix });
    try {
      const r = await refresh(second.url, String(tokens.refresh_token));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.match(String(r.json.refresh_token), SERVICE_TOKEN);
      assert.equal(r.json.access_token, tokens.access_token);
      const again = await refresh(second.url, String(r.json.refresh_token), {
        extra: { fresh_access_token: 'true' },
      });
      assert.equal(again.status, 200, 'and Webex accepts the sealed refresh token it kept');
    } finally {
      await second.close();
      await dumpPrefix(second.redis!.url, prefix, { remove: true });
    }
  });

  test('Redis restarted from its append-only file: grants still refresh; nothing in clear', async () => {
    let redis: LocalRedisServer | undefined = await startLocalRedis({ appendOnly: true });
    const prefix = uniquePrefix('grants-aof');
    try {
      const srv = await startTestServer({ sandbox, redisUrl: redis.url, redisPrefix: prefix });
      let tokens: Record<string, unknown>;
      let rotated: string;
      try {
        assert.equal(events(srv.logs, 'redis_not_persisting').length, 0, 'no warning with AOF');
        tokens = await deliveredTokens(srv.url);
        const webexTokens = sandbox.sandbox.issued.at(-1)!;
        await assertNoTokensInClear(
          redis.url,
          prefix,
          [String(tokens.refresh_token), webexTokens.access_token, webexTokens.refresh_token],
          'after delivery',
        );
        const r = await refresh(srv.url, String(tokens.refresh_token), {
          extra: { fresh_access_token: 'true' },
        });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        rotated = String(r.json.refresh_token);
        await assertNoTokensInClear(
          redis.url,
          prefix,
          [
            String(tokens.refresh_token),
            rotated,
            ...sandbox.sandbox.issued.slice(-2).flatMap((t) => [t.access_token, t.refresh_token]),
          ],
          'after a refresh',
        );
      } finally {
        await srv.close();
      }
      // A crash (SIGKILL), then a cold start that can only read the append-only file.
      await redis.stop();
      await redis.start();
      const back = await startTestServer({ sandbox, redisUrl: redis.url, redisPrefix: prefix });
      try {
        const r = await refresh(back.url, rotated);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        const old = await refresh(back.url, String(tokens.refresh_token));
        assert.equal(old.json.error, 'invalid_grant', 'the rotation survived too');
        assert.equal(events(back.logs, 'grant_reuse_detected').length, 1);
      } finally {
        await back.close();
      }
    } finally {
      await redis?.stop();
      redis = undefined;
    }
  });
});

test('a Redis without an append-only file gets a startup warning (readiness stays green)', async () => {
  const redis = await startLocalRedis();
  try {
    const srv = await startTestServer({ sandbox, redisUrl: redis.url });
    try {
      const [warning] = events(srv.logs, 'redis_not_persisting');
      assert.equal(warning?.level, 40);
      assert.match(String(warning?.msg), /appendonly/);
      assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
    } finally {
      await srv.close();
    }
  } finally {
    await redis.stop();
  }
});

describe('the org allowlist is checked at every refresh', () => {
  test('two instances on one Redis prefix: the one that no longer serves the org refuses, without calling Webex', async () => {
    const prefix = uniquePrefix('grants-org');
    const open = await startTestServer({ sandbox, redisPrefix: prefix });
    const narrowed = await startTestServer({
      sandbox,
      redisPrefix: prefix,
      env: { ALLOWED_ORG_IDS: orgApiId('00000000-0000-4000-8000-000000000abc') },
    });
    try {
      const tokens = await deliveredTokens(open.url);
      const calls = sandbox.sandbox.calls.refresh;
      const refused = await refresh(narrowed.url, String(tokens.refresh_token), {
        extra: { fresh_access_token: 'true' },
      });
      assert.equal(refused.status, 400);
      assert.equal(refused.json.error, 'invalid_grant');
      assert.match(String(refused.json.error_description), /ALLOWED_ORG_IDS/);
      assert.equal(sandbox.sandbox.calls.refresh, calls, 'Webex was not asked');
      assert.equal(events(narrowed.logs, 'grant_refresh_failed').at(-1)?.reason, 'org_not_allowed');
      // Refused, not consumed: the instance that still serves the org refreshes it.
      const ok = await refresh(open.url, String(tokens.refresh_token));
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
    } finally {
      await narrowed.close();
      await open.close();
      await dumpPrefix(open.redis!.url, prefix, { remove: true });
    }
  });
});
