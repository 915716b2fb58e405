/**
 * How many replicas can confirm a durable write (Redis WAIT) to a given key, so the store asks
 * WAIT for no more than can answer.
 */
import { Cluster } from 'ioredis';
import { keySlot, type RedisClient } from './redis-topology';

export class ReplicaCount {
  private readonly cluster: boolean;
  /** The master's connected replicas, as last read (standalone and sentinel modes). */
  private readonly masterReplicas = { count: Number.POSITIVE_INFINITY, at: 0 };

  /** `readReplication` answers INFO replication from the master the store writes to. */
  constructor(
    private readonly client: RedisClient,
    private readonly readReplication: () => Promise<string>,
  ) {
    this.cluster = client instanceof Cluster;
  }

  /**
   * Replicas that can confirm a write to `key`: in a cluster, those of the master owning its
   * slot in the current map; otherwise the master's connected replicas (INFO replication, read
   * at most every 2 s). After a failover there are none until the old master comes back as a
   * replica, and a durable write must not sit through the whole WAIT timeout for nothing: a
   * delivery that writes its grant durably would otherwise keep a waiting poll past a second.
   */
  async forKey(key: string): Promise<number> {
    if (this.cluster) {
      const owners = (this.client as Cluster).slots[keySlot(key)];
      return owners ? owners.length - 1 : Number.POSITIVE_INFINITY;
    }
    const now = Date.now();
    if (now - this.masterReplicas.at > 2000) {
      this.masterReplicas.at = now;
      const info = await this.readReplication().catch(() => '');
      const found = /connected_slaves:(\d+)/.exec(info);
      this.masterReplicas.count = found ? Number(found[1]) : Number.POSITIVE_INFINITY;
    }
    return this.masterReplicas.count;
  }
}
