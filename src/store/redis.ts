import { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors';
import { RedisSubscriptions } from './redis-pubsub';
import { ReplicaCount } from './redis-replicas';
import { defineScripts, type ClientWithScripts } from './redis-scripts';
import {
  connect,
  describeTopology,
  groupBySlot,
  probeTags,
  type RedisClient,
  type TopologyOptions,
} from './redis-topology';
import { followSentinelFailovers } from './sentinel-failover';
import type { GateSpec, Store, WriteOptions } from './store';
import { WriteBatcher } from './write-batching';

export interface RedisStoreOptions extends TopologyOptions {
  /** Prepended to every key and channel this store touches. */
  prefix: string;
  /** Replicas a durable write waits for (Redis WAIT); 0 or absent: none. */
  waitReplicas?: number;
  waitTimeoutMs?: number;
  /** Hold a busy turn's commands in the socket (write-batching.ts); false only for the bench's A/B. */
  batchWrites?: boolean;
  /** Told about connection state changes (never about values). */
  onEvent?: (
    event: 'ready' | 'error' | 'close' | 'wait_short' | 'resubscribed' | 'master_switched',
    detail?: string,
  ) => void;
}

function unavailable(err: unknown): never {
  throw new StoreUnavailableError(err);
}

/**
 * Redis-backed store, the same commands in every REDIS_MODE (redis-topology.ts connects).
 * Commands fail fast while disconnected (no offline queue) and time out, so a Redis outage or
 * a failover turns into quick 503s rather than hung requests; ioredis keeps reconnecting (and
 * re-reading the cluster map, or asking the sentinels) in the background, so the service
 * recovers by itself.
 *
 * Keys that one script touches must share a `{hash tag}` (the callers put one in); commands
 * over several keys that need no atomicity (getMany, delete) are split per slot here.
 */
export class RedisStore implements Store {
  private readonly client: ClientWithScripts;
  private readonly cluster: boolean;
  private readonly replicas: ReplicaCount;
  private readonly subscriptions: RedisSubscriptions;
  /** Commands sent and not yet answered, and whether this turn's writes are being held. */
  private readonly writes: WriteBatcher;
  private readonly stopFollowingFailovers: (() => void) | undefined;

  constructor(private readonly options: RedisStoreOptions) {
    this.client = defineScripts(connect(options));
    this.cluster = this.client instanceof Cluster;
    // Cluster: no batching, each node has its own socket (sendClustered).
    this.writes = new WriteBatcher(
      () => (this.client as Redis).stream,
      options.batchWrites !== false,
    );
    this.watch(this.client);
    this.replicas = new ReplicaCount(this.client, () =>
      this.send(() => this.client.info('replication')),
    );
    this.subscriptions = new RedisSubscriptions(options, {
      watch: (conn) => this.watch(conn),
      resubscribed: () => this.options.onEvent?.('resubscribed'),
    });
    if (options.mode === 'sentinel') {
      this.stopFollowingFailovers = followSentinelFailovers(
        options,
        () => [this.client as Redis, this.subscriptions.connection as Redis | undefined],
        (master) => this.options.onEvent?.('master_switched', master),
      );
    }
  }

  private watch(conn: RedisClient): void {
    conn.on('ready', () => this.options.onEvent?.('ready'));
    // ioredis emits 'error' on every failed reconnect; without a listener Node would crash.
    conn.on('error', (err: Error) => this.options.onEvent?.('error', err.message));
    conn.on('close', () => this.options.onEvent?.('close'));
  }

  /** Which topology the store reached, for the startup log line. */
  describe(): string {
    return describeTopology(this.client, this.options);
  }

  /** Resolves when the first connection is ready, or after `timeoutMs` (false). */
  waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.client.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.client.once('ready', onReady);
    });
  }

  private k(key: string): string {
    return this.options.prefix + key;
  }

  /**
   * Runs one command on the command connection; any failure becomes StoreUnavailableError.
   * Counted while it waits for its reply, so the write batcher knows when the connection is busy.
   * Not async: one promise less per call.
   */
  private send<T>(op: () => Promise<T>): Promise<T> {
    if (this.cluster) return this.sendClustered(op);
    const writes = this.writes;
    writes.sending();
    try {
      return op().then(
        (value) => {
          writes.replied();
          return value;
        },
        (err: unknown) => {
          writes.replied();
          return unavailable(err);
        },
      );
    } catch (err) {
      writes.replied();
      return Promise.reject(new StoreUnavailableError(err));
    }
  }

  /**
   * Cluster: no socket batching (each node has its own socket). ioredis retries a command
   * through MOVED answers and slot-map refreshes during a failover, which can outlast one
   * command's timeout; the request's own deadline caps the whole attempt.
   */
  private sendClustered<T>(op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error('Redis cluster command timed out')),
        this.options.commandTimeoutMs,
      );
    });
    let attempt: Promise<T>;
    try {
      attempt = op();
    } catch (err) {
      clearTimeout(timer);
      return Promise.reject(new StoreUnavailableError(err));
    }
    // The losing side of the race must not become an unhandled rejection.
    attempt.catch(() => undefined);
    return Promise.race([attempt, deadline]).then(
      (value) => {
        clearTimeout(timer);
        return value;
      },
      (err: unknown) => {
        clearTimeout(timer);
        return unavailable(err);
      },
    );
  }

  async set(key: string, value: string, ttlMs: number, opts?: WriteOptions): Promise<void> {
    const px = Math.max(1, Math.ceil(ttlMs));
    const full = this.k(key);
    const wanted = opts?.durable ? (this.options.waitReplicas ?? 0) : 0;
    const replicas = wanted === 0 ? 0 : Math.min(wanted, await this.replicas.forKey(full));
    if (replicas < wanted) {
      this.options.onEvent?.('wait_short', `no replica serves this key's slot right now`);
    }
    if (replicas === 0) {
      await this.send(() => this.client.set(full, value, 'PX', px));
      return;
    }
    // WAIT on the same connection as the write (in a cluster: the node that owns the key's
    // slot, since the pipeline goes where its key goes). It covers every earlier write on that
    // connection too, so callers make the last write of a decision durable. It must end
    // before the command timeout, or a slow replica would turn an approval into a 503.
    const timeout = Math.min(
      this.options.waitTimeoutMs ?? 500,
      Math.floor(this.options.commandTimeoutMs / 2),
    );
    const results = await this.send(() =>
      this.client.pipeline().set(full, value, 'PX', px).wait(replicas, timeout).exec(),
    );
    for (const [err] of results ?? []) if (err) unavailable(err);
    const acked = Number(results?.[1]?.[1] ?? 0);
    if (acked < replicas) {
      this.options.onEvent?.(
        'wait_short',
        `${acked} of ${replicas} replicas confirmed within ${timeout} ms`,
      );
    }
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const res = await this.send(() =>
      this.client.set(this.k(key), value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'),
    );
    return res === 'OK';
  }

  async get(key: string): Promise<string | null> {
    return this.send(() => this.client.get(this.k(key)));
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    const full = keys.map((key) => this.k(key));
    if (!this.cluster) return this.send(() => this.client.mget(full));
    // One MGET per slot, in parallel; answers go back in the caller's order.
    const out: (string | null)[] = new Array<string | null>(full.length).fill(null);
    await Promise.all(
      [...groupBySlot(full)].map(async (indexes) => {
        const values = await this.send(() => this.client.mget(indexes.map((i) => full[i]!)));
        indexes.forEach((i, n) => (out[i] = values[n] ?? null));
      }),
    );
    return out;
  }

  readAndOpenGate(
    keys: readonly string[],
    gate: GateSpec,
  ): Promise<{ values: (string | null)[]; opened: boolean }> {
    if (keys.length === 0) return Promise.resolve({ values: [], opened: false });
    const all = [...keys, gate.key].map((key) => this.k(key));
    return this.send(() =>
      this.client.wstReadAndOpenGate(
        all.length,
        ...all,
        Math.ceil(gate.ttlMs),
        Math.ceil(gate.stepMs),
        gate.countIndex + 1,
      ),
    ).then(([values, opened]) => ({ values, opened: opened === 1 }));
  }

  async take(key: string): Promise<string | null> {
    return this.send(() => this.client.getdel(this.k(key)));
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const full = keys.map((key) => this.k(key));
    if (!this.cluster) {
      await this.send(() => this.client.del(...full));
      return;
    }
    await Promise.all(
      [...groupBySlot(full)].map((indexes) =>
        this.send(() => this.client.del(...indexes.map((i) => full[i]!))),
      ),
    );
  }

  async increment(key: string, ttlMs: number): Promise<{ count: number; ttlMs: number }> {
    const [count, pttl] = await this.send(() =>
      this.client.wstIncrement(this.k(key), Math.max(1, Math.ceil(ttlMs))),
    );
    return { count, ttlMs: pttl };
  }

  /**
   * Whether Redis keeps an append-only file (INFO persistence), for the startup warning; null
   * when it cannot tell (a cluster, whose nodes may differ, or INFO refused by a managed Redis).
   */
  async appendOnly(): Promise<boolean | null> {
    if (this.cluster) return null;
    const info = await this.send(() => (this.client as Redis).info('persistence'));
    const m = /^aof_enabled:(\d)/m.exec(info);
    return m ? m[1] === '1' : null;
  }

  async setAdd(key: string, member: string, ttlMs: number): Promise<void> {
    await this.send(() =>
      this.client.wstSetAdd(this.k(key), member, Math.max(1, Math.ceil(ttlMs))),
    );
  }

  async setRemove(key: string, member: string): Promise<void> {
    await this.send(() => this.client.zrem(this.k(key), member));
  }

  async setMembers(key: string): Promise<string[]> {
    return this.send(() => this.client.wstSetMembers(this.k(key)));
  }

  /**
   * Readiness: a write and a read through the topology. In a cluster, one probe key per master
   * (a hash tag chosen to land in that master's slots), so a shard without a master fails it.
   */
  async ping(): Promise<void> {
    const tags = this.cluster ? probeTags(this.client as Cluster) : ['probe'];
    if (tags.length === 0) unavailable(new Error('the cluster map is not known yet'));
    await Promise.all(
      tags.map(async (tag) => {
        const key = this.k(`readyz:{${tag}}`);
        await this.send(() => this.client.set(key, '1', 'PX', 10_000));
        if ((await this.send(() => this.client.get(key))) !== '1') {
          unavailable(new Error('the readiness probe did not read back what it wrote'));
        }
      }),
    );
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.send(() => this.client.publish(this.k(channel), message));
  }

  /** Delegated to the subscriptions (redis-pubsub.ts), under this store's prefix. */
  async subscribe(
    channel: string,
    onMessage: (message: string) => void,
    onResubscribed?: () => void,
  ) {
    return this.subscriptions.subscribe(this.k(channel), onMessage, onResubscribed);
  }

  async close(): Promise<void> {
    this.stopFollowingFailovers?.();
    const subscriber = this.subscriptions.connection;
    await Promise.allSettled([this.client.quit(), subscriber?.quit()]);
    this.client.disconnect();
    subscriber?.disconnect();
  }
}
