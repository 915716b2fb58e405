/** How the store connects in each REDIS_MODE: seeds, passwords, TLS, and cluster key slots. */
import assert from 'node:assert/strict';
import { test } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { connect, keySlot, parseSeeds } from '../../src/store/redis-topology';

test('seeds: comma-separated URLs with decoded credentials, TLS by scheme, default ports', () => {
  assert.deepEqual(parseSeeds('redis://:p%40ss@a:7000, rediss://user:pw@b', 26379), [
    { host: 'a', port: 7000, username: undefined, password: 'p@ss', tls: false },
    { host: 'b', port: 26379, username: 'user', password: 'pw', tls: true },
  ]);
});

test('key slots match Redis Cluster, and a hash tag decides the slot', () => {
  // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
  assert.equal(keySlot('foo'), 12182);
  assert.equal(keySlot('123456789'), 12739);
  assert.equal(keySlot('wst:handoff:{abc}'), keySlot('wst:poll:{abc}'));
  assert.equal(keySlot('wst:handoff:{abc}'), keySlot('abc'));
  assert.equal(keySlot('a{}b'), keySlot('a{}b'), 'an empty tag hashes the whole key');
});

test('rediss:// turns TLS on, and REDIS_PASSWORD replaces the URL password, in every mode', () => {
  const lazy = { lazyConnect: true };
  const standalone = connect(
    { mode: 'standalone', url: 'rediss://:old@r:6380/2', commandTimeoutMs: 1000, password: 'new' },
    lazy,
  ) as Redis;
  assert.ok(standalone.options.tls);
  assert.equal(standalone.options.password, 'new');
  assert.equal(standalone.options.db, 2);
  standalone.disconnect();

  const sentinel = connect(
    {
      mode: 'sentinel',
      url: 'rediss://:pw@s1:26379,rediss://:pw@s2',
      commandTimeoutMs: 1000,
      sentinelName: 'tokens',
      sentinelPassword: 'sp',
    },
    lazy,
  ) as Redis;
  assert.equal(sentinel.options.name, 'tokens');
  assert.deepEqual(sentinel.options.sentinels, [
    { host: 's1', port: 26379 },
    { host: 's2', port: 26379 },
  ]);
  assert.equal(sentinel.options.password, 'pw');
  assert.equal(sentinel.options.sentinelPassword, 'sp');
  assert.ok(sentinel.options.tls && sentinel.options.sentinelTLS);
  assert.equal(sentinel.options.enableTLSForSentinelMode, true);
  sentinel.disconnect();

  const cluster = connect(
    {
      mode: 'cluster',
      url: 'rediss://:pw@n1:7000,rediss://:pw@n2:7001',
      commandTimeoutMs: 1000,
      password: 'secret',
    },
    lazy,
  ) as Cluster;
  assert.ok(cluster instanceof Cluster);
  assert.ok(cluster.options.redisOptions?.tls);
  assert.equal(cluster.options.redisOptions?.password, 'secret');
  assert.equal(cluster.options.scaleReads, 'master');
  cluster.disconnect();
});
