/**
 * Fixed-window counters kept in the store, so limits hold across replicas.
 * Identifiers (addresses, browser ids) are hashed before they become keys.
 */
import { hashSecret } from '../crypto';
import { tooManyRequests } from '../errors';
import type { Metrics } from '../metrics';
import type { Store } from '../store/store';

export interface RateLimitRule {
  name: string;
  limit: number;
  windowSeconds: number;
  /** Words for the 429 message: "Too many <what> ...". */
  what: string;
}

export class RateLimiter {
  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
  ) {}

  private key(rule: RateLimitRule, id: string): string {
    return `rl:${rule.name}:${hashSecret(id)}`;
  }

  /** Count one hit; throws 429 once the window's limit is passed. */
  async hit(rule: RateLimitRule, id: string): Promise<void> {
    const { count, ttlMs } = await this.store.increment(
      this.key(rule, id),
      rule.windowSeconds * 1000,
    );
    if (count > rule.limit) this.reject(rule, ttlMs);
  }

  /** Throw 429 if any of the ids has already used up its allowance (failures counted by `fail`). */
  async ensureUnder(rule: RateLimitRule, ids: readonly string[]): Promise<void> {
    const values = await this.store.getMany(ids.map((id) => this.key(rule, id)));
    if (values.some((v) => Number(v ?? 0) >= rule.limit))
      this.reject(rule, rule.windowSeconds * 1000);
  }

  /** Record one failure against each id. */
  async fail(rule: RateLimitRule, ids: readonly string[]): Promise<void> {
    await Promise.all(
      ids.map((id) => this.store.increment(this.key(rule, id), rule.windowSeconds * 1000)),
    );
  }

  private reject(rule: RateLimitRule, ttlMs: number): never {
    this.metrics.rateLimitRejections.inc({ limit: rule.name });
    throw tooManyRequests(Math.max(1, Math.ceil(ttlMs / 1000)), rule.what);
  }
}
