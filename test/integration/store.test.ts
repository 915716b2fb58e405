import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryStore } from '../../src/store/memory';
import { RedisStore } from '../../src/store/redis';
import { dumpPrefix, sharedRedis, uniquePrefix } from '../helpers/redis';
import { storeContract } from '../store-contract';

storeContract('memory', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
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
