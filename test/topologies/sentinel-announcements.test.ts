/**
 * The timings behind two intermittent failures of the sentinel failover test (issue 18), staged
 * with a scripted sentinel: a `+switch-master` heard while the connections, already
 * reconnecting after their master died, wait for a sentinel to name the master (ioredis' own
 * failover detector then ended them for good: 503 until a restart); and the same failover
 * announced again by another sentinel once they reached the new master (that detector dropped
 * them again: 503s after /readyz had turned green). Only an announcement of another master may
 * move a ready connection.
 */
import assert from 'node:assert/strict';
import { afterAll, test } from '@jest/globals';
import { RedisStore } from '../../src/store/redis';
import { parseSeeds } from '../../src/store/redis-topology';
import { CuttableProxy, FakeSentinel } from '../helpers/fake-sentinel';
import { dumpPrefix, sharedRedis, uniquePrefix } from '../helpers/redis';
import { until } from './servers';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('failover announcements end no connection, and move only those on another master', async () => {
  const { url } = await sharedRedis();
  const [redis] = parseSeeds(url);
  const master = await new CuttableProxy({ host: redis!.host, port: redis!.port }).start();
  cleanups.push(() => master.close());
  const sentinel = await new FakeSentinel('wst', { host: '127.0.0.1', port: master.port }).start();
  cleanups.push(() => sentinel.close());

  const switched: string[] = [];
  const prefix = uniquePrefix('sentinel-failover');
  const store = new RedisStore({
    mode: 'sentinel',
    url: `redis://127.0.0.1:${sentinel.port}`,
    password: redis!.password,
    sentinelName: 'wst',
    prefix,
    commandTimeoutMs: 1000,
    onEvent: (event, detail) => {
      if (event === 'master_switched') switched.push(String(detail));
    },
  });
  cleanups.push(() => dumpPrefix(url, prefix, { remove: true }));
  cleanups.push(() => store.close());
  assert.ok(await store.waitUntilReady(5000), 'the store connects through the fake sentinel');
  const messages: string[] = [];
  await store.subscribe('wake', (message) => messages.push(message));
  await until(() => sentinel.subscribers.size > 0, 'the store to follow announcements', 5000);
  const answers = () =>
    store.ping().then(
      () => true,
      () => false,
    );

  // The master dies: both connections (commands, pub/sub) reconnect and ask the sentinel, which
  // keeps them waiting while it announces the promotion.
  sentinel.holding = true;
  master.cut();
  await until(() => sentinel.held.length >= 2, 'both connections asking for the master', 5000);
  await sentinel.switchMaster();
  sentinel.release();
  await until(answers, 'the store to answer again', 10_000);

  // Another sentinel announces the same failover late: the connections stay where they are.
  await sentinel.switchMaster();
  assert.equal(await store.ping(), undefined);
  // An announcement of another master moves them. Announcements are handled in order, so once
  // this one is, the late one above was too: it moved nothing.
  await sentinel.switchMaster({ host: '127.0.0.1', port: 1 });
  await until(() => switched.length === 2, 'both connections moved', 5000);
  assert.deepEqual(switched, ['127.0.0.1:1', '127.0.0.1:1']);

  // They come back (the sentinel still names the proxy), and wake-ups flow again.
  await until(answers, 'the store to answer after the move', 10_000);
  await until(
    async () => {
      await store.publish('wake', 'again');
      return messages.includes('again');
    },
    'a message through the restored subscription',
    10_000,
  );
});
