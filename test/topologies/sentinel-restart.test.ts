/**
 * The root cause of an intermittent "not ready again after the sentinel failover" (issue 18),
 * staged deterministically: ioredis' failover detector hears `+switch-master` while the
 * connection, already reconnecting after its master died, is waiting for a sentinel to name the
 * master. ioredis then gives that connection up for good (status 'end'); the store must start
 * it again by itself, both the command connection and the pub/sub one.
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

test('a +switch-master heard while asking the sentinels for the master does not end the connections', async () => {
  const { url } = await sharedRedis();
  const [redis] = parseSeeds(url);
  const master = await new CuttableProxy({ host: redis!.host, port: redis!.port }).start();
  cleanups.push(() => master.close());
  const sentinel = await new FakeSentinel('wst', { host: '127.0.0.1', port: master.port }).start();
  cleanups.push(() => sentinel.close());

  const events: string[] = [];
  const prefix = uniquePrefix('sentinel-restart');
  const store = new RedisStore({
    mode: 'sentinel',
    url: `redis://127.0.0.1:${sentinel.port}`,
    password: redis!.password,
    sentinelName: 'wst',
    prefix,
    commandTimeoutMs: 1000,
    onEvent: (event) => events.push(event),
  });
  cleanups.push(() => dumpPrefix(url, prefix, { remove: true }));
  cleanups.push(() => store.close());
  assert.ok(await store.waitUntilReady(5000), 'the store connects through the fake sentinel');
  const messages: string[] = [];
  await store.subscribe('wake', (message) => messages.push(message));
  // Both connections (commands, pub/sub) have a failover detector subscribed to the sentinel.
  await until(() => sentinel.subscribers.size === 2, 'two failover detectors', 5000);

  // The master dies: both connections reconnect and ask the sentinel, which keeps them waiting.
  sentinel.holding = true;
  master.cut();
  await until(() => sentinel.held.length >= 2, 'both connections asking for the master', 5000);
  // The promotion is announced now; each detector, on hearing it, closes its own sentinel
  // connections, so their going away says the announcement was taken in.
  sentinel.switchMaster();
  await until(() => sentinel.subscribers.size === 0, 'the detectors to hear the switch', 5000);
  sentinel.release();

  await until(
    () =>
      store.ping().then(
        () => true,
        () => false,
      ),
    'the store to answer again',
    10_000,
  );
  assert.ok(events.includes('restart'), `events: ${events.join(', ')}`);
  // Wake-ups flow again: the pub/sub connection came back with its subscription.
  await until(
    async () => {
      await store.publish('wake', 'again');
      return messages.includes('again');
    },
    'a message through the restored subscription',
    10_000,
  );
});
