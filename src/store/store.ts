/**
 * The storage contract. Values are opaque strings; callers hash or seal secrets before
 * they get here. Every method may reject with StoreUnavailableError.
 */
export interface Store {
  /** Store `value` under `key` for `ttlMs` milliseconds, replacing any previous value. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Store only if `key` is absent; true when this call created it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  get(key: string): Promise<string | null>;
  /** Several keys in one round trip; missing keys give null. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /** Atomic get-and-delete: of any number of concurrent takers, exactly one sees the value. */
  take(key: string): Promise<string | null>;
  delete(...keys: string[]): Promise<void>;
  /** Increment a counter, creating it with `ttlMs` on first use; returns the new value and ms left. */
  increment(key: string, ttlMs: number): Promise<{ count: number; ttlMs: number }>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  publish(channel: string, message: string): Promise<void>;
  /** Listen on a channel; resolves once listening, returns the function that stops it. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
