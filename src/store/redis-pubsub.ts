/**
 * The Redis store's subscriptions: one subscriber connection for the process (opened on the first
 * subscribe), one SUBSCRIBE per channel however many local listeners wait on it, messages fanned
 * out locally, and listeners told when a reconnect or a failover may have lost messages.
 * Publishing is a plain command and stays on the store's command connection.
 */
import { StoreUnavailableError } from '../errors';
import { connect, type RedisClient, type TopologyOptions } from './redis-topology';

export interface SubscriptionHooks {
  /** Attaches the store's connection-state listeners to the subscriber connection. */
  watch(conn: RedisClient): void;
  /** Told when the subscription came back after a reconnect or moved to another node. */
  resubscribed(): void;
}

export class RedisSubscriptions {
  private subscriber: RedisClient | undefined;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private readonly resubscribed = new Set<() => void>();

  constructor(
    private readonly options: TopologyOptions,
    private readonly hooks: SubscriptionHooks,
  ) {}

  /** The subscriber connection, once the first subscribe opened it. */
  get connection(): RedisClient | undefined {
    return this.subscriber;
  }

  /** Subscribes to `channel` (the full name, prefix included); resolves to the unsubscribe. */
  async subscribe(
    channel: string,
    onMessage: (message: string) => void,
    onResubscribed?: () => void,
  ): Promise<() => Promise<void>> {
    const sub = this.subscriberConnection();
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      try {
        // Not through the store's send(): the subscriber queues commands during an outage, and
        // a waiting SUBSCRIBE must not count as the command connection being busy.
        await sub.subscribe(channel).catch((err: unknown) => {
          throw new StoreUnavailableError(err);
        });
      } catch (err) {
        this.handlers.delete(channel);
        throw err;
      }
    }
    set.add(onMessage);
    if (onResubscribed) this.resubscribed.add(onResubscribed);
    return async () => {
      if (onResubscribed) this.resubscribed.delete(onResubscribed);
      const current = this.handlers.get(channel);
      if (!current) return;
      current.delete(onMessage);
      if (current.size === 0) {
        this.handlers.delete(channel);
        await sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /**
   * Classic pub/sub in every mode. In a cluster a PUBLISH reaches every node, and ioredis keeps
   * the subscription on some live node, moving it when that node dies; wake-ups are one per
   * approval or denial (human speed), so the broadcast costs nothing that matters, where
   * sharded pub/sub would put the one channel on one shard and need its own failover handling.
   */
  private subscriberConnection(): RedisClient {
    if (!this.subscriber) {
      const sub = connect(this.options, {
        // Subscriptions are restored by ioredis after a reconnect or a failover.
        autoResubscribe: true,
        commandTimeout: undefined,
        enableOfflineQueue: true,
      });
      this.hooks.watch(sub);
      const resubscribed = () => {
        this.hooks.resubscribed();
        for (const fn of this.resubscribed) fn();
      };
      let readyBefore = false;
      sub.on('ready', () => {
        // Messages published while the subscription was down are lost: let listeners re-check.
        if (readyBefore) resubscribed();
        readyBefore = true;
      });
      // A cluster moves its subscription to another node when a node leaves the map, without
      // a new 'ready': re-check once the move has had time to happen.
      sub.on('-node', () => setTimeout(resubscribed, 1000).unref());
      sub.on('message', (channel: string, message: string) => {
        for (const handler of this.handlers.get(channel) ?? []) handler(message);
      });
      this.subscriber = sub;
    }
    return this.subscriber;
  }
}
