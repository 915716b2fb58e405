/**
 * Sentinel mode: moves the store's connections to a newly promoted master as soon as a sentinel
 * announces it (`+switch-master`), so a master that hangs rather than dies (a partition, a
 * frozen host) does not keep them until TCP gives up. A master that dies or is demoted closes
 * their sockets by itself (Sentinel sends CLIENT KILL on every reconfiguration), and ioredis then
 * asks the sentinels afresh.
 *
 * ioredis' own `failoverDetector` does this too, but wrongly in two ways (ioredis 5.x), both seen
 * as intermittent failures of the topology tests (docs/redis-topologies.md, "During a failover"):
 * - it acts on announcements heard while its connection is already reconnecting, between asking
 *   a sentinel for the master and connecting to it; the attempt under way then fails with
 *   "Connection is closed." and the client ends for good, never retried: 503 until a restart;
 * - it acts on every sentinel's announcement of the same failover (each sentinel publishes one
 *   as it learns the new configuration, up to seconds apart), dropping connections that already
 *   reached the new master, and the requests on them answer 503.
 * Here only a ready connection to another address than the announced master is dropped.
 */
import { Redis } from 'ioredis';
import { parseSeeds, reconnectDelayMs, tlsOptions, type TopologyOptions } from './redis-topology';

const CHANNEL = '+switch-master';

/**
 * Subscribes to `+switch-master` on every configured sentinel (reconnecting forever) and, for
 * this group's master, drops each of `connections()` that is ready on another address; ioredis
 * reconnects it through the sentinels. `onSwitch` hears each drop. Returns the unsubscriber.
 */
export function followSentinelFailovers(
  opts: TopologyOptions,
  connections: () => (Redis | undefined)[],
  onSwitch: (master: string) => void,
): () => void {
  const name = opts.sentinelName ?? 'mymaster';
  const seeds = parseSeeds(opts.url, 26379);
  const tls = seeds[0]?.tls ? tlsOptions(opts) : undefined;
  const watchers = seeds.map(({ host, port }) => {
    const watcher = new Redis({
      host,
      port,
      password: opts.sentinelPassword || undefined,
      ...(tls ? { tls } : {}),
      connectTimeout: Math.max(opts.commandTimeoutMs, 2000),
      enableReadyCheck: false,
      retryStrategy: reconnectDelayMs,
    });
    watcher.on('error', () => undefined);
    watcher.on('message', (channel: string, message: string) => {
      // "<master name> <old ip> <old port> <new ip> <new port>"
      const [master, , , newHost, newPort] = message.split(' ');
      if (channel !== CHANNEL || master !== name || !newHost || !newPort) return;
      for (const conn of connections()) {
        if (conn && onAnotherNode(conn, newHost, Number(newPort))) {
          onSwitch(`${newHost}:${newPort}`);
          conn.disconnect(true);
        }
      }
    });
    watcher.subscribe(CHANNEL).catch(() => undefined);
    return watcher;
  });
  return () => watchers.forEach((watcher) => watcher.disconnect());
}

/**
 * Ready, and talking to another server than `host:port`. A connection that is not ready is
 * finding the master through the sentinels already: interrupting it is what ended ioredis'.
 */
function onAnotherNode(conn: Redis, host: string, port: number): boolean {
  if (conn.status !== 'ready') return false;
  const stream = conn.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  const address = stream?.remoteAddress?.replace(/^::ffff:/, '');
  return !(address === host && stream?.remotePort === port);
}
