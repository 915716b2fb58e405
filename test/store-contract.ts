/**
 * The Store contract, as one suite any implementation must pass. Run against real Redis
 * and against the in-memory store by test/integration/store.test.ts.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type { Store } from '../src/store/store';
import { until } from './helpers/time';

/** Redis keeps its own clock: its TTLs need real time to pass. */
const realTime = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ContractSubject {
  store: Store;
  cleanup: () => Promise<void>;
  /**
   * Lets `ms` of the store's time pass. Default: real time (Redis keeps its own clock); a store
   * built on an injected clock advances that instead, so TTL checks never race a loaded machine.
   */
  elapse?: (ms: number) => Promise<void>;
}

export function storeContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let elapse: (ms: number) => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup, elapse = realTime } = await make());
    });
    afterAll(async () => {
      await cleanup();
    });

    test('set / get / delete', async () => {
      await store.set('a', 'one', 5000);
      assert.equal(await store.get('a'), 'one');
      await store.set('a', 'two', 5000);
      assert.equal(await store.get('a'), 'two');
      await store.delete('a');
      assert.equal(await store.get('a'), null);
      assert.equal(await store.get('never-set'), null);
    });

    test('values expire after their TTL', async () => {
      await store.set('ttl', 'x', 150);
      assert.equal(await store.get('ttl'), 'x');
      await elapse(300);
      assert.equal(await store.get('ttl'), null);
    });

    test('setIfAbsent creates once, and again after expiry', async () => {
      assert.equal(await store.setIfAbsent('nx', '1', 150), true);
      assert.equal(await store.setIfAbsent('nx', '2', 150), false);
      assert.equal(await store.get('nx'), '1');
      await elapse(300);
      assert.equal(await store.setIfAbsent('nx', '3', 5000), true);
    });

    test('getMany answers in order with nulls for missing keys', async () => {
      await store.set('m1', 'one', 5000);
      await store.set('m3', 'three', 5000);
      assert.deepEqual(await store.getMany(['m1', 'm2', 'm3']), ['one', null, 'three']);
      assert.deepEqual(await store.getMany([]), []);
    });

    test('getMany and delete handle keys that live far apart (cluster slots)', async () => {
      const keys = Array.from({ length: 12 }, (_, i) => `spread-${i}`);
      for (const [i, key] of keys.entries()) await store.set(key, `v${i}`, 5000);
      assert.deepEqual(await store.getMany([...keys, 'spread-none']), [
        ...keys.map((_, i) => `v${i}`),
        null,
      ]);
      await store.delete(...keys);
      assert.deepEqual(
        await store.getMany(keys),
        keys.map(() => null),
      );
    });

    test('a durable set is stored and read back like any other', async () => {
      await store.set('durable{d}', 'kept', 5000, { durable: true });
      assert.equal(await store.get('durable{d}'), 'kept');
    });

    test('take is atomic: of 50 concurrent takers exactly one gets the value', async () => {
      for (let round = 0; round < 5; round++) {
        await store.set('once', `v${round}`, 5000);
        const results = await Promise.all(Array.from({ length: 50 }, () => store.take('once')));
        assert.deepEqual(
          results.filter((r) => r !== null),
          [`v${round}`],
        );
        assert.equal(await store.get('once'), null);
      }
    });

    // Keys read together and their gate share a hash tag, as the contract asks (Redis Cluster).
    test('readAndOpenGate reads in order and opens the gate once per TTL', async () => {
      const gate = { key: 'g1{rg1}', ttlMs: 150, stepMs: 1000, countIndex: 1 };
      await store.set('r1{rg1}', 'record', 5000);
      const first = await store.readAndOpenGate(['r1{rg1}', 'c1{rg1}', 'x1{rg1}'], gate);
      assert.deepEqual(first, { values: ['record', null, null], opened: true });
      assert.equal(
        (await store.readAndOpenGate(['r1{rg1}', 'c1{rg1}', 'x1{rg1}'], gate)).opened,
        false,
      );
      await elapse(300);
      assert.equal(
        (await store.readAndOpenGate(['r1{rg1}', 'c1{rg1}', 'x1{rg1}'], gate)).opened,
        true,
      );
    });

    test('readAndOpenGate leaves the gate alone when the first key is missing', async () => {
      const gate = { key: 'g2{rg2}', ttlMs: 5000, stepMs: 0, countIndex: 1 };
      const missing = await store.readAndOpenGate(['r2{rg2}', 'c2{rg2}'], gate);
      assert.deepEqual(missing, { values: [null, null], opened: false });
      assert.equal(await store.get('g2{rg2}'), null);
      await store.set('r2{rg2}', 'record', 5000);
      assert.equal((await store.readAndOpenGate(['r2{rg2}', 'c2{rg2}'], gate)).opened, true);
    });

    test('readAndOpenGate lengthens the gate by stepMs per unit of the counter it read', async () => {
      await store.set('r3{rg3}', 'record', 5000);
      await store.set('c3{rg3}', '2', 5000);
      const gate = { key: 'g3{rg3}', ttlMs: 50, stepMs: 100, countIndex: 1 };
      const first = await store.readAndOpenGate(['r3{rg3}', 'c3{rg3}'], gate);
      assert.deepEqual(first, { values: ['record', '2'], opened: true });
      // 50 + 2 × 100 = 250 ms: still shut well after the bare 50 ms, open after 250.
      await elapse(150);
      assert.equal((await store.readAndOpenGate(['r3{rg3}', 'c3{rg3}'], gate)).opened, false);
      await elapse(250);
      assert.equal((await store.readAndOpenGate(['r3{rg3}', 'c3{rg3}'], gate)).opened, true);
    });

    test('increment counts within a window and restarts after it', async () => {
      const a = await store.increment('ctr', 200);
      const b = await store.increment('ctr', 200);
      assert.equal(a.count, 1);
      assert.equal(b.count, 2);
      assert.ok(b.ttlMs > 0 && b.ttlMs <= 200, `ttl ${b.ttlMs}`);
      await elapse(350);
      assert.equal((await store.increment('ctr', 200)).count, 1);
    });

    test('concurrent increments are not lost', async () => {
      await Promise.all(Array.from({ length: 40 }, () => store.increment('ctr2', 5000)));
      assert.equal((await store.increment('ctr2', 5000)).count, 41);
    });

    test('sets: add, remove, members; members expire one by one', async () => {
      assert.deepEqual(await store.setMembers('s1'), []);
      await store.setAdd('s1', 'a', 5000);
      await store.setAdd('s1', 'b', 150);
      await store.setAdd('s1', 'c', 5000);
      await store.setAdd('s1', 'c', 5000);
      assert.deepEqual((await store.setMembers('s1')).sort(), ['a', 'b', 'c']);
      await store.setRemove('s1', 'a');
      await store.setRemove('s1', 'never-added');
      assert.deepEqual((await store.setMembers('s1')).sort(), ['b', 'c']);
      await elapse(300);
      assert.deepEqual(await store.setMembers('s1'), ['c']);
    });

    test('sets: re-adding replaces the expiry of a member; the set goes when its last member does', async () => {
      await store.setAdd('s2', 'x', 5000);
      await store.setAdd('s2', 'x', 150);
      await elapse(300);
      assert.deepEqual(await store.setMembers('s2'), []);
      await store.setAdd('s3', 'y', 150);
      await elapse(300);
      // A plain value may take the key again once the set has gone.
      assert.equal(await store.setIfAbsent('s3', 'v', 5000), true);
      await store.delete('s3');
      await store.setAdd('s4', 'z', 5000);
      await store.delete('s4');
      assert.deepEqual(await store.setMembers('s4'), []);
    });

    test('ping resolves', async () => {
      await store.ping();
    });

    test('publish reaches every subscriber of the channel, and unsubscribe stops it', async () => {
      const got: string[] = [];
      const got2: string[] = [];
      const stop = await store.subscribe('chan', (m) => got.push(m));
      const stop2 = await store.subscribe('chan', (m) => got2.push(m));
      await store.publish('chan', 'hello');
      await store.publish('other', 'ignored');
      await until(() => got.length > 0 && got2.length > 0, { what: "both subscribers' message" });
      assert.deepEqual(got, ['hello']);
      assert.deepEqual(got2, ['hello']);
      await stop();
      await store.publish('chan', 'again');
      await until(() => got2.length >= 2, { what: 'the second message to the one left' });
      assert.deepEqual(got, ['hello']);
      assert.deepEqual(got2, ['hello', 'again']);
      await stop2();
    });
  });
}
