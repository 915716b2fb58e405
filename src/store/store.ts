/** The gate `readAndOpenGate` creates: alive `ttlMs + stepMs × n`, n the count read at `countIndex`. */
export interface GateSpec {
  key: string;
  ttlMs: number;
  stepMs: number;
  /** Index into the keys read of a counter (an integer string); absent counts as 0. */
  countIndex: number;
}

export interface WriteOptions {
  /**
   * The write decides something a person was told (an approval, a grant): before resolving,
   * wait until it (and every earlier write to the same hash tag) reached the configured number
   * of replicas, so a failover does not undo it.
   */
  durable?: boolean;
}

/**
 * The storage contract. Values are opaque strings; callers hash or seal secrets before
 * they get here. Every method may reject with StoreUnavailableError.
 */
export interface Store {
  /** Store `value` under `key` for `ttlMs` milliseconds, replacing any previous value. */
  set(key: string, value: string, ttlMs: number, opts?: WriteOptions): Promise<void>;
  /** Store only if `key` is absent; true when this call created it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  get(key: string): Promise<string | null>;
  /** Several keys in one round trip; missing keys give null. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /**
   * Keys read and the gate share one `{hash tag}` (they live on one Redis Cluster node).
   * Read `keys` and, only when keys[0] exists, create `gate.key` unless it already exists; one
   * atomic round trip. `opened` is true when this call created the gate. It exists for the
   * device flow's poll: read the handoff and open the poll-interval gate (whose early reopening
   * is `slow_down`) in one round trip.
   */
  readAndOpenGate(
    keys: readonly string[],
    gate: GateSpec,
  ): Promise<{ values: (string | null)[]; opened: boolean }>;
  /** Atomic get-and-delete: of any number of concurrent takers, exactly one sees the value. */
  take(key: string): Promise<string | null>;
  delete(...keys: string[]): Promise<void>;
  /** Increment a counter, creating it with `ttlMs` on first use; returns the new value and ms left. */
  increment(key: string, ttlMs: number): Promise<{ count: number; ttlMs: number }>;
  /**
   * Sets whose members expire one by one (the grants console's indexes). Adds `member` to the
   * set at `key`, alive `ttlMs` from now (re-adding replaces its expiry); the set itself lives
   * as long as its longest-lived member. One key per call, so it needs no hash tag.
   */
  setAdd(key: string, member: string, ttlMs: number): Promise<void>;
  setRemove(key: string, member: string): Promise<void>;
  /** The live members of the set at `key`, in no particular order (empty when absent). */
  setMembers(key: string): Promise<string[]>;
  /** Resolves when the store can be written and read right now; rejects otherwise. */
  ping(): Promise<void>;
  publish(channel: string, message: string): Promise<void>;
  /**
   * Listen on a channel; resolves once listening, returns the function that stops it.
   * `onResubscribed` runs when the subscription came back after a break (a reconnect, a
   * failover), during which messages may have been lost.
   */
  subscribe(
    channel: string,
    onMessage: (message: string) => void,
    onResubscribed?: () => void,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
