/**
 * The store contract against a real Redis Cluster (3 masters, 3 replicas) and a Sentinel group,
 * the same suite standalone Redis and the in-memory store pass (test/integration/store.test.ts).
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { startService } from '../../src/main';
import { RedisStore } from '../../src/store/redis';
import { freePort, uniquePrefix } from '../helpers/redis';
import { captureLogger, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_KEY } from '../helpers/server';
import { storeContract } from '../store-contract';
import { PASSWORD, TestCluster, TestSentinelGroup } from './servers';

const cluster = new TestCluster();
const sentinel = new TestSentinelGroup();
beforeAll(async () => {
  await Promise.all([cluster.start(), sentinel.start()]);
});
afterAll(async () => {
  await Promise.all([cluster.stop(), sentinel.stop()]);
});

function storeFor(mode: 'cluster' | 'sentinel'): RedisStore {
  const topology = mode === 'cluster' ? cluster : sentinel;
  return new RedisStore({
    mode,
    url: topology.url,
    sentinelName: sentinel.name,
    prefix: uniquePrefix(mode),
    commandTimeoutMs: 1000,
    waitReplicas: 1,
    waitTimeoutMs: 400,
  });
}

for (const mode of ['cluster', 'sentinel'] as const) {
  storeContract(mode, async () => {
    const store = storeFor(mode);
    assert.ok(await store.waitUntilReady(10_000), `the ${mode} store connects`);
    return { store, cleanup: () => store.close() };
  });
}

describe('topology details', () => {
  test('the startup line names the topology reached, and never the password', async () => {
    const c = storeFor('cluster');
    const s = storeFor('sentinel');
    try {
      await Promise.all([c.waitUntilReady(10_000), s.waitUntilReady(10_000)]);
      await c.ping();
      assert.equal(c.describe(), 'Redis cluster reached: 3 masters, 3 replicas');
      assert.match(
        s.describe(),
        new RegExp(
          `^Redis sentinel reached: master "${sentinel.name}" at 127\\.0\\.0\\.1:${sentinel.master.port}, through 3 sentinels$`,
        ),
      );
    } finally {
      await Promise.all([c.close(), s.close()]);
    }
  });

  test('the service logs one startup line naming the topology it reached', async () => {
    for (const mode of ['cluster', 'sentinel'] as const) {
      const lines: string[] = [];
      const port = await freePort();
      const service = await startService(
        {
          NODE_ENV: 'test',
          PORT: String(port),
          HOST: '127.0.0.1',
          CLIENT_ID: TEST_CLIENT_ID,
          CLIENT_SECRET: TEST_CLIENT_SECRET,
          REDIS_MODE: mode,
          REDIS_URL: mode === 'cluster' ? cluster.url : sentinel.url,
          REDIS_SENTINEL_NAME: sentinel.name,
          REDIS_PREFIX: uniquePrefix(`main-${mode}`),
          TOKEN_ENCRYPTION_KEY: TEST_KEY,
        },
        { logger: captureLogger(lines, 'info') },
      );
      try {
        const topology = lines
          .map((l) => JSON.parse(l) as { event?: string; msg: string })
          .filter((l) => l.event === 'redis_topology');
        assert.equal(topology.length, 1, lines.join('\n'));
        assert.match(
          topology[0]!.msg,
          mode === 'cluster'
            ? /^Redis cluster reached: 3 masters, 3 replicas \(REDIS_MODE=cluster\)$/
            : /^Redis sentinel reached: master "wstmaster" at 127\.0\.0\.1:\d+, through 3 sentinels \(REDIS_MODE=sentinel\)$/,
        );
        assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
        assert.ok(!lines.some((l) => l.includes(PASSWORD)), 'no password in the logs');
      } finally {
        await service.shutdown();
      }
    }
  });

  test('a durable write waits for a replica: WAIT confirms it (no redis_wait_short)', async () => {
    for (const mode of ['cluster', 'sentinel'] as const) {
      const events: string[] = [];
      const store = new RedisStore({
        mode,
        url: mode === 'cluster' ? cluster.url : sentinel.url,
        sentinelName: sentinel.name,
        prefix: uniquePrefix(`wait-${mode}`),
        commandTimeoutMs: 1000,
        waitReplicas: 1,
        waitTimeoutMs: 400,
        onEvent: (event) => events.push(event),
      });
      try {
        await store.waitUntilReady(10_000);
        await store.set('w{x}', 'v', 5000, { durable: true });
        assert.ok(!events.includes('wait_short'), `${mode}: ${events.join(',')}`);
        // Two replicas asked of a topology with one: the write stands, and the shortfall is told.
        const strict = new RedisStore({
          mode,
          url: mode === 'cluster' ? cluster.url : sentinel.url,
          sentinelName: sentinel.name,
          prefix: uniquePrefix(`wait2-${mode}`),
          commandTimeoutMs: 1000,
          waitReplicas: 2,
          waitTimeoutMs: 100,
          onEvent: (event) => events.push(event),
        });
        await strict.waitUntilReady(10_000);
        await strict.set('w{x}', 'v', 5000, { durable: true });
        assert.equal(await strict.get('w{x}'), 'v');
        assert.ok(events.includes('wait_short'), `${mode}: ${events.join(',')}`);
        await strict.close();
      } finally {
        await store.close();
      }
    }
  });
});
