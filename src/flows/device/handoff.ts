/**
 * A script's handoff as stored: its record, the keys that belong to it, and the one place each
 * record kind is sealed and opened. Every record is bound to its store key and role, so an
 * edited record, or one copied from another handoff, reads as absent (records.ts, SECURITY.md).
 */
import type { WorkloadBinding } from '../../workload/binding';
import type { VerifiedWorkload } from '../../workload/verify';
import type { FlowDeps } from '../context';
import { openRecord, sealRecord } from '../records';

/** How long a resolved or expired handoff is remembered, so late polls get a precise answer. */
export const TOMBSTONE_MS = 10 * 60 * 1000;
export const HANDOFF_CHANNEL = 'handoff';

/** What a CI job's verified ID token proved when it asked (never the token or its jti). */
export type HandoffWorkload = Pick<
  VerifiedWorkload,
  'issuerName' | 'issuer' | 'audience' | 'sub' | 'facts'
>;

export interface HandoffRecord {
  clientId: string;
  clientName: string;
  scopes: string[];
  /**
   * What the requester claims (address, user agent), and from approval on the binding the
   * admin chose for a verified CI job, which the grant inherits.
   */
  requester: { address: string; userAgent: string; workload?: WorkloadBinding | null };
  /** Set when the request carried a CI job's ID token, verified before the handoff existed. */
  workload?: HandoffWorkload;
  createdAt: number;
  expiresAt: number;
  /** `cancelled`: the script gave up and revoked its device code (RFC 7009). */
  status: 'pending' | 'approved' | 'denied' | 'cancelled';
  denyReason?: 'declined' | 'access_denied' | 'invalid_scope' | 'org_not_allowed';
  approver?: { name?: string | null; email: string | null; orgId: string | null };
  /** Store key of the user-code index, to forget it on delivery. */
  userCodeKey: string;
}

/** A handoff still waiting for an admin, with the id that names its keys. */
export interface PendingHandoff {
  handoffId: string;
  record: HandoffRecord;
}

// Every key of one handoff shares the hash tag {handoffId}: the poll script reads and writes
// several of them at once, and in a Redis Cluster they must live on one node (which also lets
// one WAIT cover the whole decision). Different handoffs spread over the slots.
export const handoffKey = (handoffId: string) => `handoff:{${handoffId}}`;
export const resultKey = (handoffId: string) => `result:{${handoffId}}`;
export const pollKey = (handoffId: string) => `poll:{${handoffId}}`;
export const slowKey = (handoffId: string) => `slow:{${handoffId}}`;
export const expiredKey = (handoffId: string) => `expired:{${handoffId}}`;
export const decidedKey = (handoffId: string) => `decided:{${handoffId}}`;

/** A handoff's id: the keyed hash of its device code, which names every key of the handoff. */
export const handoffIdFor = (deps: Pick<FlowDeps, 'sealer'>, deviceCode: string) =>
  deps.sealer.hasher.digest('device_code', deviceCode);
export const userCodeKeyFor = (deps: Pick<FlowDeps, 'sealer'>, userCode: string) =>
  `ucode:${deps.sealer.hasher.digest('user_code', userCode)}`;

export type RecordDeps = Pick<FlowDeps, 'sealer' | 'store' | 'logger' | 'metrics'>;

/** How long a handoff's keys live: until it expires, then a tombstone's while. */
export const remainingTtl = (deps: Pick<FlowDeps, 'now'>, expiresAt: number) =>
  Math.max(1, expiresAt - deps.now()) + TOMBSTONE_MS;

export const sealHandoff = (deps: RecordDeps, handoffId: string, record: HandoffRecord) =>
  sealRecord(deps, 'handoff', handoffKey(handoffId), record);
export const openHandoff = (deps: RecordDeps, handoffId: string, raw: string | null | undefined) =>
  openRecord<HandoffRecord>(deps, 'handoff', handoffKey(handoffId), raw);

/** The handoff's record, or null when absent or failing its check. */
export const readHandoff = async (deps: RecordDeps, handoffId: string) =>
  openHandoff(deps, handoffId, await deps.store.get(handoffKey(handoffId)));

/**
 * Write a record. Decisions are `durable`: the write waits for the replicas
 * (REDIS_WAIT_REPLICAS), covering the decision and the sealed result written before it.
 */
export async function saveHandoff(
  deps: RecordDeps & Pick<FlowDeps, 'now'>,
  handoffId: string,
  record: HandoffRecord,
  { durable = true }: { durable?: boolean } = {},
): Promise<void> {
  await deps.store.set(
    handoffKey(handoffId),
    sealHandoff(deps, handoffId, record),
    remainingTtl(deps, record.expiresAt),
    durable ? { durable: true } : undefined,
  );
}

/** The user-code index holds the handoff id it names. */
export const sealUserCode = (deps: RecordDeps, userCodeKey: string, handoffId: string) =>
  sealRecord(deps, 'ucode', userCodeKey, handoffId);
export const openUserCode = (deps: RecordDeps, userCodeKey: string, raw: string | null) =>
  openRecord<string>(deps, 'ucode', userCodeKey, raw, (v) => typeof v === 'string');

/**
 * What the approving admin's page polls: keyed by a second hash so that nothing named after
 * the device code outlives the delivery, and holding only the state, never a token.
 */
const watchKey = (watchId: string) => `watch:${watchId}`;
export const watchIdFor = (deps: Pick<FlowDeps, 'sealer'>, handoffId: string) =>
  deps.sealer.hasher.digest('watch', handoffId);

/** The handoff as the approving admin's page shows it, after approval. */
export type WatchState = 'approved' | 'delivered' | 'cancelled' | 'expired';
interface WatchRecord {
  state: Exclude<WatchState, 'expired'>;
  expiresAt: number;
}

export async function saveWatch(
  deps: RecordDeps & Pick<FlowDeps, 'now'>,
  handoffId: string,
  state: WatchRecord['state'],
  expiresAt: number,
): Promise<void> {
  const watchId = watchIdFor(deps, handoffId);
  const record: WatchRecord = { state, expiresAt };
  await deps.store.set(
    watchKey(watchId),
    sealRecord(deps, 'watch', watchKey(watchId), record),
    remainingTtl(deps, expiresAt),
  );
}

/** What the approving admin's page shows: picked up, still waiting, given up, or too late. */
export async function handoffState(deps: FlowDeps, watchId: string): Promise<WatchState | null> {
  const key = watchKey(watchId);
  const watch = openRecord<WatchRecord>(deps, 'watch', key, await deps.store.get(key));
  if (watch === null) return null;
  return watch.state === 'approved' && watch.expiresAt <= deps.now() ? 'expired' : watch.state;
}

/** Wake the polls waiting on this handoff, on every replica. */
export async function notify(deps: RecordDeps, handoffId: string): Promise<void> {
  // Pollers fall back to their next poll if the wake-up is lost, so a failed publish is not fatal.
  await deps.store.publish(HANDOFF_CHANNEL, handoffId).catch((err: unknown) => {
    deps.logger.warn(
      { event: 'publish_failed', reason: (err as Error).message },
      'could not wake waiting pollers',
    );
  });
}
