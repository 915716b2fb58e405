/**
 * Records in the store that decide where tokens go or who approved (sign-in flows, handoffs,
 * the user-code index, the approval watch) are sealed with AES-256-GCM, and the additional
 * data binds each to its role and its store key: someone who can write to Redis cannot forge
 * one, edit a field, or move a value to another key or role. They can delete records, or put
 * back an earlier value of the same key (see SECURITY.md). A record that fails the check is
 * treated as absent, so it never delivers anything; the person sees a start-again page or an
 * RFC error.
 */
import type { FlowDeps } from './context';

export type RecordRole =
  | 'flow'
  | 'handoff'
  | 'ucode'
  | 'watch'
  // Grants (flows/grants/repository.ts): the record, its revocation, and the refresh-token
  // pointers (current, rotated out, a rotation's kept answer, a delivered Webex token).
  | 'grant'
  | 'grant_revoked'
  | 'grant_binding'
  | 'grant_pointer'
  | 'grant_rotated'
  | 'grant_answer'
  | 'grant_delivered';

type OpenDeps = Pick<FlowDeps, 'sealer' | 'store' | 'logger' | 'metrics'>;

/** How long one rejected key stays reported, so a poll loop on a tampered record logs once. */
const REPORTED_MS = 10 * 60 * 1000;

const aad = (role: RecordRole, key: string) => `${role}:${key}`;

export function sealRecord(
  deps: Pick<FlowDeps, 'sealer'>,
  role: RecordRole,
  key: string,
  value: unknown,
): string {
  return deps.sealer.seal(JSON.stringify(value), aad(role, key));
}

/**
 * The record stored under `key`, or null when there is none or it fails the check. Sealed
 * values only come from sealRecord, so an authentic one has the shape it was written with;
 * `isShape` still guards against another version's record.
 */
export function openRecord<T>(
  deps: OpenDeps,
  role: RecordRole,
  key: string,
  raw: string | null | undefined,
  isShape: (value: unknown) => boolean = isObject,
): T | null {
  if (raw === null || raw === undefined) return null;
  try {
    const value = JSON.parse(deps.sealer.open(raw, aad(role, key))) as unknown;
    if (isShape(value)) return value as T;
  } catch {
    // Tampered, copied from another key, plain text, or sealed with a dropped key: all alike.
  }
  rejected(deps, role, key);
  return null;
}

export const isObject = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Counted every time; logged once per key (across replicas), never with a value. */
function rejected(deps: OpenDeps, role: RecordRole, key: string): void {
  deps.metrics.storeRecordsRejected.inc({ role });
  const warn = () =>
    deps.logger.warn(
      { event: 'store_record_rejected', role },
      'a record in the store failed its integrity check (tampered, copied from another key, or sealed with a key no longer configured); treated as absent',
    );
  // Not awaited: the caller answers as if the record were absent, whatever this costs.
  deps.store.setIfAbsent(`rejected:${key}`, '1', REPORTED_MS).then(
    (first) => {
      if (first) warn();
    },
    () => warn(),
  );
}
