/**
 * A Redis this test owns is killed mid-run and started again on the same port: requests that
 * need the store answer 503 quickly with a clear page or JSON, /readyz fails, /healthz passes,
 * nothing crashes or rejects unhandled, and the service serves again by itself.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { CookieBrowser } from '../helpers/http';
import { startLocalRedis, type LocalRedisServer } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';
import { DEVICE_GRANT, csrfFor, postForm, send, sleep, watchProcess } from './support';
import { until } from '../helpers/time';

let redis: LocalRedisServer;
let srv: TestServer;
const watcher = watchProcess();

beforeAll(async () => {
  redis = await startLocalRedis();
  srv = await startTestServer({ redisUrl: redis.url, env: { REDIS_COMMAND_TIMEOUT_MS: '500' } });
});
afterAll(async () => {
  watcher.stop();
  await redis?.start().catch(() => undefined);
  await srv?.close();
  await redis?.stop();
});

const FAST_MS = 2000;

async function waitReady(timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await until(
    async () => (await send(`${srv.url}/readyz`).catch(() => ({ status: 0 }))).status === 200,
    { what: '/readyz to answer 200 again', timeoutMs, everyMs: 100 },
  );
  return Date.now() - t0;
}

test('Redis stopped mid-run: quick 503s, readiness fails, liveness passes; it heals by itself', async () => {
  // Healthy first, with a handoff in flight and a browser holding a CSRF token.
  const browser = new CookieBrowser();
  const csrf = await csrfFor(browser, srv.url);
  const auth = await postForm(`${srv.url}/oauth2/device_authorization`, {
    client_id: 'cli',
    scope: 'spark-admin:people_read',
  });
  assert.equal(auth.status, 200);
  const { device_code, user_code } = JSON.parse(auth.body) as Record<string, string>;
  assert.equal((await send(`${srv.url}/readyz`)).status, 200);

  await redis.stop();

  const checks: {
    name: string;
    run: () => Promise<{ status: number; headers: Headers; body: string; ms: number }>;
    json: boolean;
  }[] = [
    {
      name: 'GET /start',
      json: false,
      run: () =>
        send(`${srv.url}/start?scope=spark-admin:people_read`, {
          headers: { accept: 'text/html' },
        }),
    },
    {
      name: 'GET /oauth',
      json: false,
      run: () => send(`${srv.url}/oauth?state=abc&code=def`, { headers: { accept: 'text/html' } }),
    },
    {
      name: 'POST /device',
      json: false,
      run: () => {
        const cookie = [...browser.cookies.entries()]
          .map(([k, v]) => `${k.split('|')[1]}=${v}`)
          .join('; ');
        return postForm(
          `${srv.url}/device`,
          { csrf, user_code: user_code! },
          { cookie, accept: 'text/html' },
        );
      },
    },
    {
      name: 'POST device_authorization',
      json: true,
      run: () =>
        postForm(`${srv.url}/oauth2/device_authorization`, {
          client_id: 'cli',
          scope: 'spark-admin:people_read',
        }),
    },
    {
      name: 'POST token (poll)',
      json: true,
      run: () =>
        postForm(`${srv.url}/oauth2/token`, {
          grant_type: DEVICE_GRANT,
          client_id: 'cli',
          device_code: device_code!,
        }),
    },
    {
      name: 'POST token (poll, wait=5)',
      json: true,
      run: () =>
        postForm(`${srv.url}/oauth2/token`, {
          grant_type: DEVICE_GRANT,
          client_id: 'cli',
          device_code: device_code!,
          wait: '5',
        }),
    },
  ];
  for (let round = 0; round < 2; round++) {
    for (const c of checks) {
      const r = await c.run();
      assert.equal(r.status, 503, `${c.name}: ${r.status} ${r.body.slice(0, 200)}`);
      assert.ok(r.ms < FAST_MS, `${c.name} took ${Math.round(r.ms)} ms`);
      assert.equal(r.headers.get('retry-after'), '5', `${c.name}: Retry-After`);
      if (c.json) {
        assert.deepEqual(Object.keys(JSON.parse(r.body)).sort(), ['error', 'error_description']);
        assert.equal(JSON.parse(r.body).error, 'temporarily_unavailable', c.name);
      } else {
        assert.match(r.headers.get('content-type') ?? '', /text\/html/, c.name);
        assert.match(r.body, /Temporarily unavailable/, c.name);
        assert.match(r.body, /cannot reach its session store/, c.name);
      }
    }
    const ready = await send(`${srv.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.ok(ready.ms < FAST_MS, `/readyz took ${Math.round(ready.ms)} ms`);
    const live = await send(`${srv.url}/healthz`);
    assert.equal(live.status, 200);
    // Pages that need no store keep working.
    assert.equal((await send(`${srv.url}/`)).status, 200);
    assert.equal((await send(`${srv.url}/device`)).status, 200);
    await sleep(700);
  }
  assert.ok(
    !srv.logs.some((l) => l.includes('unhandled app error')),
    'every failure went through the error handler',
  );

  await redis.start();
  const healedIn = await waitReady(8000);
  assert.ok(healedIn < 8000);
  const start = await send(`${srv.url}/start?scope=spark-admin:people_read`);
  assert.equal(start.status, 302, 'browser flow starts again without a restart');
  const again = await postForm(`${srv.url}/oauth2/device_authorization`, {
    client_id: 'cli',
    scope: 'spark-admin:people_read',
  });
  assert.equal(again.status, 200, again.body);
  const poll = await postForm(`${srv.url}/oauth2/token`, {
    grant_type: DEVICE_GRANT,
    client_id: 'cli',
    device_code: String(JSON.parse(again.body).device_code),
  });
  assert.equal(JSON.parse(poll.body).error, 'authorization_pending');

  await sleep(50);
  assert.deepEqual(watcher.problems, [], 'no unhandled rejection or uncaught exception');
});
