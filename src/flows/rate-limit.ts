/**
 * Fixed-window counters kept in the store, so limits hold across replicas.
 * Identifiers (addresses, browser ids, codes) become keys only as keyed hashes: a plain hash of
 * an IPv4 address or a user code is inverted by trying them all.
 */
import net from 'node:net';
import type { KeyedHasher } from '../crypto';
import { tooManyRequests } from '../errors';
import type { Metrics } from '../metrics';
import type { Store } from '../store/store';

export interface RateLimitRule {
  name: string;
  limit: number;
  windowSeconds: number;
  /** Words for the 429 message: "Too many <what> ...". */
  what: string;
  /** Whole 429 message when "from your address or browser" would be wrong (global budgets). */
  message?: string;
}

/**
 * The rate-limit identity of a client address: IPv4 as is, IPv6 by its /64 (one subscriber
 * usually holds a whole /64, so per-address limits on IPv6 would be per-attempt limits).
 * IPv4-mapped IPv6 counts as the IPv4 address.
 */
export function addressId(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && net.isIPv4(mapped[1]!)) return `ip:${mapped[1]}`;
  if (!net.isIPv6(address)) return `ip:${address}`;
  return `ip6:${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.split('%')[0]!.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two hex groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16).toString(16));
}

export class RateLimiter {
  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
    private readonly hasher: KeyedHasher,
  ) {}

  private key(rule: RateLimitRule, id: string): string {
    return `rl:${rule.name}:${this.hasher.digest('rate_limit', id)}`;
  }

  /** Count one hit; throws 429 once the window's limit is passed. */
  async hit(rule: RateLimitRule, id: string): Promise<void> {
    await this.hitAll([[rule, id]]);
  }

  /**
   * Count one attempt against every (rule, id) first, then compare: each counter is incremented
   * atomically in the store, so of any number of concurrent attempts at most `limit` see room
   * on a counter. Throws 429 when any counter is past its limit.
   */
  async hitAll(hits: readonly (readonly [RateLimitRule, string])[]): Promise<void> {
    const counts = await Promise.all(
      hits.map(([rule, id]) => this.store.increment(this.key(rule, id), rule.windowSeconds * 1000)),
    );
    const over = hits.findIndex(([rule], i) => counts[i]!.count > rule.limit);
    if (over >= 0) this.reject(hits[over]![0], counts[over]!.ttlMs);
  }

  /**
   * How many failures `id` has in the current window, and whether they reach the limit. For
   * budgets counted after the fact (only failures count); they may overshoot by the attempts
   * in flight, which the per-source limits in front of them bound.
   */
  async exhausted(rule: RateLimitRule, id: string): Promise<boolean> {
    const [value] = await this.store.getMany([this.key(rule, id)]);
    return Number(value ?? 0) >= rule.limit;
  }

  /** Record one failure against `id`; true when this one used up the budget. */
  async fail(rule: RateLimitRule, id: string): Promise<boolean> {
    const { count } = await this.store.increment(this.key(rule, id), rule.windowSeconds * 1000);
    return count === rule.limit;
  }

  /** Refuse with 429 and Retry-After for the rest of the window. */
  reject(rule: RateLimitRule, ttlMs = rule.windowSeconds * 1000): never {
    this.metrics.rateLimitRejections.inc({ limit: rule.name });
    throw tooManyRequests(Math.max(1, Math.ceil(ttlMs / 1000)), rule.what, rule.message);
  }
}
