/**
 * How the Redis store reaches its servers in each REDIS_MODE: one server, a Redis Cluster
 * through seed nodes, or a master found through Sentinel. Everything mode-specific about
 * connecting lives here, so the store itself runs the same commands in every mode.
 */
import fs from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisMode } from '../config';

export interface TopologyOptions {
  mode?: RedisMode;
  /** One URL, or comma-separated seeds (cluster nodes, sentinels). */
  url: string;
  commandTimeoutMs: number;
  /** Password of the Redis servers; when set, replaces the one in the URL(s). */
  password?: string;
  sentinelName?: string;
  sentinelPassword?: string;
  tlsCaFile?: string;
}

export interface Seed {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: boolean;
}

/** Parses comma-separated redis:// or rediss:// URLs; credentials are URL-decoded. */
export function parseSeeds(url: string, defaultPort = 6379): Seed[] {
  return url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((raw) => {
      const u = new URL(raw);
      return {
        // IPv6 literals come bracketed from URL.
        host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
        port: u.port ? Number(u.port) : defaultPort,
        username: u.username ? decodeURIComponent(u.username) : undefined,
        password: u.password ? decodeURIComponent(u.password) : undefined,
        tls: u.protocol === 'rediss:',
      };
    });
}

export function tlsOptions(opts: TopologyOptions): ConnectionOptions {
  return opts.tlsCaFile ? { ca: fs.readFileSync(opts.tlsCaFile) } : {};
}

/** Delay before reconnect attempt `times` (from 1): 100 ms more each time, at most 2 s. */
export const reconnectDelayMs = (times: number): number => Math.min(times * 100, 2000);

/**
 * Options every connection shares: fail fast while disconnected (no offline queue), time out,
 * and keep reconnecting forever with a backoff capped at 2 s, so an outage or a failover heals
 * without a restart.
 */
export function baseOptions(commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 2000),
    maxRetriesPerRequest: 0,
    retryStrategy: reconnectDelayMs,
    // A master demoted to replica answers READONLY: reconnect, which finds the new master.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
}

export type RedisClient = Redis | Cluster;

/**
 * A new connection (or cluster client) to the configured topology. `extra` adjusts the
 * per-connection options (the subscriber keeps an offline queue and no command timeout).
 */
export function connect(opts: TopologyOptions, extra: RedisOptions = {}): RedisClient {
  const mode = opts.mode ?? 'standalone';
  const base: RedisOptions = { ...baseOptions(opts.commandTimeoutMs), ...extra };
  if (mode === 'standalone') {
    const [seed] = parseSeeds(opts.url);
    // ioredis lets the URL's password win over the options: put REDIS_PASSWORD into the URL.
    const url = new URL(opts.url.trim());
    if (opts.password) url.password = encodeURIComponent(opts.password);
    return new Redis(url.toString(), {
      ...base,
      ...(seed?.tls ? { tls: tlsOptions(opts) } : {}),
    });
  }
  if (mode === 'sentinel') {
    const seeds = parseSeeds(opts.url, 26379);
    const first = seeds[0]!;
    const tls = first.tls ? tlsOptions(opts) : undefined;
    return new Redis({
      ...base,
      sentinels: seeds.map(({ host, port }) => ({ host, port })),
      name: opts.sentinelName ?? 'mymaster',
      username: first.username,
      password: opts.password || first.password,
      sentinelPassword: opts.sentinelPassword || undefined,
      ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
      // Not ioredis' failoverDetector: sentinel-failover.ts follows +switch-master instead.
      sentinelRetryStrategy: reconnectDelayMs,
    });
  }
  const seeds = parseSeeds(opts.url);
  const first = seeds[0]!;
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...base,
      username: first.username,
      password: opts.password || first.password,
      ...(first.tls ? { tls: tlsOptions(opts) } : {}),
    },
    enableOfflineQueue: extra.enableOfflineQueue ?? false,
    lazyConnect: extra.lazyConnect ?? false,
    scaleReads: 'master',
    // Failover: a dead master's slots answer errors until a replica is promoted; ask the
    // cluster for the new map quickly, and keep asking.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: Math.max(opts.commandTimeoutMs, 1000),
    slotsRefreshInterval: 2000,
    clusterRetryStrategy: reconnectDelayMs,
    // Nodes announce IP addresses: with TLS, keep checking the certificate against the seed's
    // host name rather than resolving it away.
    ...(first.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
  };
  return new Cluster(
    seeds.map(({ host, port }) => ({ host, port })),
    clusterOptions,
  );
}

/** One log-friendly sentence naming what was reached: never a password. */
export function describeTopology(client: RedisClient, opts: TopologyOptions): string {
  const mode = opts.mode ?? 'standalone';
  if (client instanceof Cluster) {
    // From the slot map (each slot: its master, then its replicas), which ioredis has as soon
    // as it is ready, rather than from the connections it happens to have opened.
    const masters = new Set<string>();
    const replicas = new Set<string>();
    for (const nodes of client.slots) {
      if (!nodes?.[0]) continue;
      masters.add(nodes[0]);
      for (const replica of nodes.slice(1)) replicas.add(replica);
    }
    return `Redis cluster reached: ${masters.size} masters, ${replicas.size} replicas`;
  }
  const stream = client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  const where = stream?.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : '?';
  if (mode === 'sentinel') {
    const sentinels = parseSeeds(opts.url, 26379).length;
    return `Redis sentinel reached: master "${opts.sentinelName ?? 'mymaster'}" at ${where}, through ${sentinels} sentinels`;
  }
  return `Redis standalone reached at ${where}`;
}

// CRC16/XMODEM, as Redis Cluster hashes keys to its 16384 slots.
const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

/** The cluster slot of a key: the hash of its first non-empty `{...}` tag, or of the whole key. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc % 16384;
}

/** Indexes of `keys` grouped by cluster slot. */
export function groupBySlot(keys: readonly string[]): Iterable<number[]> {
  const groups = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const slot = keySlot(key);
    const group = groups.get(slot);
    if (group) group.push(i);
    else groups.set(slot, [i]);
  });
  return groups.values();
}

/** One hash tag per master of the cluster's current map, each landing in that master's slots. */
export function probeTags(cluster: Cluster): string[] {
  const owners = new Set(cluster.slots.map((nodes) => nodes?.[0]).filter(Boolean));
  const tags = new Map<string, string>();
  for (let i = 0; tags.size < owners.size && i < 100_000; i++) {
    const tag = `probe-${i}`;
    const owner = cluster.slots[keySlot(tag)]?.[0];
    if (owner && !tags.has(owner)) tags.set(owner, tag);
  }
  return [...tags.values()];
}
