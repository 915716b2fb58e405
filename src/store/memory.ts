import { EventEmitter } from 'node:events';
import type { GateSpec, Store } from './store';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * In-memory store for a single local process (the demo, tests). Not shared between
 * replicas and lost on restart; main.ts warns when it is used.
 */
export class MemoryStore implements Store {
  private readonly data = new Map<string, Entry>();
  /** Sets whose members expire: key → member → expiry. */
  private readonly sets = new Map<string, Map<string, number>>();
  private readonly bus = new EventEmitter();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.bus.setMaxListeners(0);
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  private live(key: string): Entry | undefined {
    const entry = this.data.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.data.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.data) if (entry.expiresAt <= now) this.data.delete(key);
    for (const key of this.sets.keys()) this.liveSet(key);
  }

  /** The set at `key` without its expired members; absent (and forgotten) when none is left. */
  private liveSet(key: string): Map<string, number> | undefined {
    const set = this.sets.get(key);
    if (!set) return undefined;
    const now = this.now();
    for (const [member, expiresAt] of set) if (expiresAt <= now) set.delete(member);
    if (set.size === 0) {
      this.sets.delete(key);
      return undefined;
    }
    return set;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.data.set(key, { value, expiresAt: this.now() + ttlMs });
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return false;
    this.data.set(key, { value, expiresAt: this.now() + ttlMs });
    return true;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map((k) => this.live(k)?.value ?? null);
  }

  async readAndOpenGate(
    keys: readonly string[],
    gate: GateSpec,
  ): Promise<{ values: (string | null)[]; opened: boolean }> {
    const values = keys.map((k) => this.live(k)?.value ?? null);
    if (values[0] === null || values[0] === undefined) return { values, opened: false };
    const n = Number(values[gate.countIndex] ?? 0) || 0;
    const ttl = Math.max(1, Math.floor(gate.ttlMs + gate.stepMs * n));
    return { values, opened: await this.setIfAbsent(gate.key, '1', ttl) };
  }

  async take(key: string): Promise<string | null> {
    const entry = this.live(key);
    if (!entry) return null;
    this.data.delete(key);
    return entry.value;
  }

  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) {
      this.data.delete(key);
      this.sets.delete(key);
    }
  }

  async increment(key: string, ttlMs: number): Promise<{ count: number; ttlMs: number }> {
    const entry = this.live(key);
    if (!entry) {
      this.data.set(key, { value: '1', expiresAt: this.now() + ttlMs });
      return { count: 1, ttlMs };
    }
    entry.value = String(Number(entry.value) + 1);
    return { count: Number(entry.value), ttlMs: entry.expiresAt - this.now() };
  }

  async setAdd(key: string, member: string, ttlMs: number): Promise<void> {
    const set = this.liveSet(key) ?? new Map<string, number>();
    set.set(member, this.now() + ttlMs);
    this.sets.set(key, set);
  }

  async setRemove(key: string, member: string): Promise<void> {
    const set = this.liveSet(key);
    set?.delete(member);
    if (set?.size === 0) this.sets.delete(key);
  }

  async setMembers(key: string): Promise<string[]> {
    return [...(this.liveSet(key)?.keys() ?? [])];
  }

  async ping(): Promise<void> {}

  async publish(channel: string, message: string): Promise<void> {
    // Asynchronous like Redis, so publishers never run subscribers inline.
    setImmediate(() => this.bus.emit(channel, message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void) {
    this.bus.on(channel, onMessage);
    return async () => {
      this.bus.off(channel, onMessage);
    };
  }

  /** Every live key, for tests that inspect what was stored. */
  keys(): string[] {
    this.sweep();
    return [...this.data.keys(), ...this.sets.keys()];
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.bus.removeAllListeners();
  }
}
