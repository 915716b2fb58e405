import { Redis, type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '../errors';
import type { GateSpec, Store } from './store';

export interface RedisStoreOptions {
  url: string;
  /** Prepended to every key and channel this store touches. */
  prefix: string;
  /** Per-command timeout; past it the call rejects with StoreUnavailableError. */
  commandTimeoutMs: number;
  /** Told about connection state changes (never about values). */
  onEvent?: (event: 'ready' | 'error' | 'close', detail?: string) => void;
}

const INCREMENT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {c, redis.call('PTTL', KEYS[1])}`;

// KEYS: the keys read, then the gate. ARGV: ttl ms, step ms, index of the counter in the keys read.
const READ_AND_GATE_SCRIPT = `
local values = redis.call('MGET', unpack(KEYS, 1, #KEYS - 1))
local opened = 0
if values[1] then
  local n = tonumber(values[tonumber(ARGV[3])] or '0') or 0
  local ttl = math.max(1, math.floor(tonumber(ARGV[1]) + tonumber(ARGV[2]) * n))
  if redis.call('SET', KEYS[#KEYS], '1', 'PX', ttl, 'NX') then opened = 1 end
end
return {values, opened}`;

// Sets whose members expire: a sorted set scored by each member's expiry (Redis's own clock, so
// replicas with skewed clocks agree), pruned on every touch; the key lives as long as its
// longest-lived member. KEYS: the set. ARGV: member, ttl ms.
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
const SET_ADD_SCRIPT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(last[2]))) end
return 1`;
const SET_MEMBERS_SCRIPT = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)`;

type RedisWithScripts = Redis & {
  wstSetAdd(key: string, member: string, ttlMs: number): Promise<number>;
  wstSetMembers(key: string): Promise<string[]>;
  wstIncrement(key: string, ttlMs: number): Promise<[number, number]>;
  wstReadAndGate(
    numKeys: number,
    ...args: (string | number)[]
  ): Promise<[(string | null)[], number]>;
};

function unavailable(err: unknown): never {
  throw new StoreUnavailableError(err);
}

/**
 * Redis-backed store. Commands fail fast while disconnected (no offline queue) and time out,
 * so a Redis outage turns into quick 503s rather than hung requests; ioredis keeps
 * reconnecting in the background, so the service recovers by itself.
 */
export class RedisStore implements Store {
  private readonly client: RedisWithScripts;
  private subscriber: Redis | undefined;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  /** Commands sent and not yet answered, and whether this turn's writes are being held. */
  private inFlight = 0;
  private corked = false;

  constructor(private readonly options: RedisStoreOptions) {
    this.client = new Redis(options.url, this.connectionOptions()) as RedisWithScripts;
    this.client.defineCommand('wstIncrement', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    this.client.defineCommand('wstReadAndGate', { lua: READ_AND_GATE_SCRIPT });
    this.client.defineCommand('wstSetAdd', { numberOfKeys: 1, lua: SET_ADD_SCRIPT });
    this.client.defineCommand('wstSetMembers', { numberOfKeys: 1, lua: SET_MEMBERS_SCRIPT });
    this.watch(this.client);
  }

  private connectionOptions(): RedisOptions {
    return {
      enableOfflineQueue: false,
      commandTimeout: this.options.commandTimeoutMs,
      connectTimeout: Math.max(this.options.commandTimeoutMs, 2000),
      maxRetriesPerRequest: 0,
      // Keep trying forever, backing off to 2 s, so an outage heals without a restart.
      retryStrategy: (times) => Math.min(times * 100, 2000),
    };
  }

  private watch(conn: Redis): void {
    conn.on('ready', () => this.options.onEvent?.('ready'));
    // ioredis emits 'error' on every failed reconnect; without a listener Node would crash.
    conn.on('error', (err: Error) => this.options.onEvent?.('error', err.message));
    conn.on('close', () => this.options.onEvent?.('close'));
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
   * Counted while it waits for its reply, so batchWrites knows when the connection is busy.
   * Not async: one promise less per call.
   */
  private send<T>(op: () => Promise<T>): Promise<T> {
    this.batchWrites();
    this.inFlight++;
    try {
      return op().then(
        (value) => {
          this.inFlight--;
          return value;
        },
        (err: unknown) => {
          this.inFlight--;
          return unavailable(err);
        },
      );
    } catch (err) {
      this.inFlight--;
      return Promise.reject(new StoreUnavailableError(err));
    }
  }

  /**
   * While replies are outstanding (many scripts polling at once), hold this event-loop turn's
   * commands in the socket and send them in one write when the turn's I/O callbacks are done,
   * instead of one syscall each. With nothing outstanding (one client, a quiet service) a
   * command leaves at once. Each command keeps its own reply, timeout and failure: this only
   * changes how the bytes leave (docs/BENCHMARKS.md).
   */
  private batchWrites(): void {
    if (this.inFlight === 0 || this.corked) return;
    const stream = this.client.stream;
    if (!stream?.writable) return;
    stream.cork();
    this.corked = true;
    setImmediate(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.send(() => this.client.set(this.k(key), value, 'PX', Math.max(1, Math.ceil(ttlMs))));
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
    return this.send(() => this.client.mget(keys.map((key) => this.k(key))));
  }

  readAndGate(
    keys: readonly string[],
    gate: GateSpec,
  ): Promise<{ values: (string | null)[]; opened: boolean }> {
    if (keys.length === 0) return Promise.resolve({ values: [], opened: false });
    const all = [...keys, gate.key].map((key) => this.k(key));
    return this.send(() =>
      this.client.wstReadAndGate(
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
    await this.send(() => this.client.del(...keys.map((key) => this.k(key))));
  }

  async increment(key: string, ttlMs: number): Promise<{ count: number; ttlMs: number }> {
    const [count, pttl] = await this.send(() =>
      this.client.wstIncrement(this.k(key), Math.max(1, Math.ceil(ttlMs))),
    );
    return { count, ttlMs: pttl };
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

  async ping(): Promise<void> {
    await this.send(() => this.client.ping());
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.send(() => this.client.publish(this.k(channel), message));
  }

  /**
   * One subscriber connection for the process, one SUBSCRIBE per channel however many
   * local listeners wait on it; messages fan out locally.
   */
  async subscribe(channel: string, onMessage: (message: string) => void) {
    const sub = this.subscriberConnection();
    const full = this.k(channel);
    let set = this.handlers.get(full);
    if (!set) {
      set = new Set();
      this.handlers.set(full, set);
      try {
        // Not through send(): the subscriber queues commands during an outage, and a waiting
        // SUBSCRIBE must not count as the command connection being busy.
        await sub.subscribe(full).catch(unavailable);
      } catch (err) {
        this.handlers.delete(full);
        throw err;
      }
    }
    set.add(onMessage);
    return async () => {
      const current = this.handlers.get(full);
      if (!current) return;
      current.delete(onMessage);
      if (current.size === 0) {
        this.handlers.delete(full);
        await sub.unsubscribe(full).catch(() => undefined);
      }
    };
  }

  private subscriberConnection(): Redis {
    if (!this.subscriber) {
      const sub = new Redis(this.options.url, {
        ...this.connectionOptions(),
        // Subscriptions are restored by ioredis after a reconnect.
        autoResubscribe: true,
        commandTimeout: undefined,
        enableOfflineQueue: true,
      });
      this.watch(sub);
      sub.on('message', (channel: string, message: string) => {
        for (const handler of this.handlers.get(channel) ?? []) handler(message);
      });
      this.subscriber = sub;
    }
    return this.subscriber;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.client.quit(), this.subscriber?.quit()]);
    this.client.disconnect();
    this.subscriber?.disconnect();
  }
}
