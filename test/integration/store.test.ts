import assert from 'node:assert/strict';
import { test } from '@jest/globals';
import { Redis } from 'ioredis';
import { MemoryStore } from '../../src/store/memory';
import { RedisStore } from '../../src/store/redis';
import { dumpPrefix, sharedRedis, uniquePrefix } from '../helpers/redis';
import { storeContract } from '../store-contract';
import { fakeClock } from '../helpers/time';

storeContract('memory', async () => {
  // an injected clock: the TTL tests advance it instead of sleeping
  const clock = fakeClock();
  const store = new MemoryStore(clock.now);
  const elapse = async (ms: number) => clock.advance(ms);
  return { store, cleanup: () => store.close(), elapse };
});

storeContract('redis', async () => {
  const { url } = await sharedRedis();
  const prefix = uniquePrefix('contract');
  const store = new RedisStore({ url, prefix, commandTimeoutMs: 1000 });
  await store.waitUntilReady(3000);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dumpPrefix(url, prefix, { remove: true });
    },
  };
});

test('the Redis store keeps every key under its prefix and leaves other keys alone', async () => {
  const { url } = await sharedRedis();
  const prefix = uniquePrefix('prefix');
  const outsider = `${uniquePrefix('outsider')}keep`;
  const raw = new Redis(url);
  await raw.set(outsider, 'untouched', 'EX', 30);
  const store = new RedisStore({ url, prefix, commandTimeoutMs: 1000 });
  try {
    await store.waitUntilReady(3000);
    await store.set('k', 'v', 5000);
    await store.increment('c', 5000);
    const keys = [...(await dumpPrefix(url, prefix)).keys()].sort();
    assert.deepEqual(keys, [`${prefix}c`, `${prefix}k`]);
  } finally {
    await store.close();
    await dumpPrefix(url, prefix, { remove: true });
    assert.equal(await raw.get(outsider), 'untouched');
    await raw.del(outsider);
    raw.disconnect();
  }
});

/** What leaves the store's socket: one _write per lone chunk, one _writev per corked batch. */
function socketWrites(store: RedisStore): { kind: 'write' | 'writev'; chunks: number }[] {
  const socket = (store as unknown as { client: Redis }).client.stream as unknown as {
    _write: (...args: unknown[]) => void;
    _writev: (...args: unknown[]) => void;
  };
  const calls: { kind: 'write' | 'writev'; chunks: number }[] = [];
  const write = socket._write.bind(socket);
  const writev = socket._writev.bind(socket);
  socket._write = (...args) => {
    calls.push({ kind: 'write', chunks: 1 });
    write(...args);
  };
  socket._writev = (...args) => {
    calls.push({ kind: 'writev', chunks: (args[0] as unknown[]).length });
    writev(...args);
  };
  return calls;
}

test('the Redis store batches a busy turn into one write, and sends a lone command at once', async () => {
  const { url } = await sharedRedis();
  const prefix = uniquePrefix('batch');
  const store = new RedisStore({ url, prefix, commandTimeoutMs: 1000 });
  try {
    await store.waitUntilReady(3000);
    const calls = socketWrites(store);

    // Nothing outstanding: the command is written before this turn ends.
    const lone = store.set('lone', 'v', 5000);
    assert.deepEqual(calls, [{ kind: 'write', chunks: 1 }]);
    await lone;

    // One reply outstanding: the other 50 commands of this turn leave together.
    calls.length = 0;
    const first = store.set('k0', 'v0', 5000);
    const rest = Array.from({ length: 50 }, (_, i) => store.set(`k${i + 1}`, `v${i + 1}`, 5000));
    assert.deepEqual(calls, [{ kind: 'write', chunks: 1 }], 'the batch waits for the turn to end');
    await Promise.all([first, ...rest]);
    assert.deepEqual(calls, [
      { kind: 'write', chunks: 1 },
      { kind: 'writev', chunks: 50 },
    ]);

    // Each command still gets its own reply.
    const keys = Array.from({ length: 51 }, (_, i) => `k${i}`);
    const values = await Promise.all(keys.map((k) => store.get(k)));
    assert.deepEqual(
      values,
      keys.map((_, i) => `v${i}`),
    );
  } finally {
    await store.close();
    await dumpPrefix(url, prefix, { remove: true });
  }
});

test('with batchWrites false (the bench A/B) every command leaves in a write of its own', async () => {
  const { url } = await sharedRedis();
  const prefix = uniquePrefix('nobatch');
  const store = new RedisStore({ url, prefix, commandTimeoutMs: 1000, batchWrites: false });
  try {
    await store.waitUntilReady(3000);
    const calls = socketWrites(store);
    const sets = Array.from({ length: 10 }, (_, i) => store.set(`k${i}`, `v${i}`, 5000));
    assert.equal(calls.length, 10, 'each command is written before the next is issued');
    assert.ok(calls.every((c) => c.kind === 'write'));
    await Promise.all(sets);
    assert.equal(await store.get('k9'), 'v9');
  } finally {
    await store.close();
    await dumpPrefix(url, prefix, { remove: true });
  }
});
