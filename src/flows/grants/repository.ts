/**
 * Where grants live in the store. Every value is sealed (AES-256-GCM) with its store key and
 * its role as additional data, so a record copied under another key, or a pointer passed off as
 * a grant, fails to open and is treated as absent. Tokens appear only as keyed hashes (HMAC
 * under the server key) in key names.
 *
 * Every operation touches one key, and the atomic ones (claiming a rotation, marking a
 * revocation, locking a record for an update) are single-key set-if-absent: nothing here needs
 * keys to share a hash slot.
 *
 * Index sets (console, workload bindings) are hints: a reader always loads the grant and checks
 * it, so a stale member costs a lookup and nothing else; a missing one would hide a grant, so
 * members are added before they are needed and removed only on revocation or a binding change.
 */
import { randomToken } from '../../crypto';
import { OAuthError } from '../../errors';
import type { VerifiedWorkload } from '../../workload/verify';
import type { FlowDeps } from '../context';
import { openRecord, sealRecord, type RecordRole } from '../records';
import type { BindingMarker, RevokedMarker, RotatedMarker, TokenPointer } from './markers';
import type { GrantRecord, WorkloadBinding } from './model';
import { workloadCandidateKeys, workloadIndexKey } from './workload-index';

const grantKey = (id: string) => `grant:${id}`;
const revokedKey = (id: string) => `grant-revoked:${id}`;
/** An admin's change to the grant's CI binding (narrowed, or removed). */
const bindingKey = (id: string) => `grant-binding:${id}`;
/** The refresh token a managed grant's script holds now. */
const pointerKey = (digest: string) => `grant-rt:${digest}`;
/** A managed refresh token that was rotated out: presenting it again is reuse. */
const rotatedKey = (digest: string) => `grant-rt-used:${digest}`;
/** The answer a rotation gave, kept REFRESH_REUSE_GRACE_SECONDS for retries. */
const answerKey = (digest: string) => `grant-rt-answer:${digest}`;
/** A Webex refresh token the service delivered (REFRESH_TOKENS=webex, or returned by a refresh). */
const deliveredKey = (digest: string) => `grant-wrt:${digest}`;
const allIndexKey = 'grants:all';
const activeIndexKey = 'grants:active';
const emailIndexKey = (digest: string) => `grants:email:${digest}`;
/** Held while a grant record is read, changed and written back (see `update`). */
const lockKey = (id: string) => `grant-lock:${id}`;
const LOCK_TTL_MS = 10_000;
const LOCK_WAIT_MS = 3_000;
const LOCK_RETRY_MS = 20;
const orgIndexKey = (digest: string) => `grants:org:${digest}`;

/** How long a revoked grant stays visible in the console (its tokens are gone at once). */
export const REVOKED_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export type HashPurpose = 'grant_refresh_token' | 'webex_refresh_token';

export class GrantRepository {
  constructor(
    private readonly deps: Pick<FlowDeps, 'store' | 'sealer' | 'now' | 'logger' | 'metrics'>,
  ) {}

  /** The keyed hash a token is looked up by. */
  digest(purpose: HashPurpose, token: string): string {
    return this.deps.sealer.hasher.digest(purpose, token);
  }

  private seal(key: string, role: RecordRole, value: unknown): string {
    return sealRecord(this.deps, role, key, value);
  }

  /** Opens a sealed value; anything that fails the check (tampered, moved, old key) is absent. */
  private open<T>(key: string, role: RecordRole, sealed: string | null): T | null {
    return openRecord<T>(this.deps, role, key, sealed);
  }

  private ttl(until: number): number {
    return Math.max(1000, until - this.deps.now());
  }

  /** How long a record's keys must live: until it expires, or the revocation retention. */
  lifetime(record: GrantRecord): number {
    return record.state === 'active' ? this.ttl(record.expiresAt) : REVOKED_RETENTION_MS;
  }

  /**
   * The grant, with a revocation and a binding change recorded beside it taking precedence
   * over its own fields (a refresh that saved the record meanwhile cannot undo them).
   */
  async load(id: string): Promise<GrantRecord | null> {
    const [raw, rawRevoked, rawBinding] = await this.deps.store.getMany([
      grantKey(id),
      revokedKey(id),
      bindingKey(id),
    ]);
    const stored = this.open<GrantRecord>(grantKey(id), 'grant', raw ?? null);
    if (!stored || stored.id !== id) return null;
    const changed = this.open<BindingMarker>(bindingKey(id), 'grant_binding', rawBinding ?? null);
    const record: GrantRecord = changed
      ? { ...stored, requester: { ...stored.requester, workload: changed.binding } }
      : stored;
    const revoked = this.open<RevokedMarker>(revokedKey(id), 'grant_revoked', rawRevoked ?? null);
    if (revoked && record.state === 'active') {
      return { ...record, state: 'revoked', revoked, webex: null };
    }
    return record;
  }

  async loadMany(ids: readonly string[]): Promise<GrantRecord[]> {
    const records = await Promise.all(ids.map((id) => this.load(id)));
    return records.filter((r): r is GrantRecord => r !== null);
  }

  async save(record: GrantRecord): Promise<void> {
    const key = grantKey(record.id);
    // Durable: a grant (and each rotation) is something a script was told; a failover must not
    // undo it (REDIS_WAIT_REPLICAS).
    await this.deps.store.set(key, this.seal(key, 'grant', record), this.lifetime(record), {
      durable: true,
    });
  }

  /**
   * Read, change and write back grant `id` while no other update of it runs, so concurrent
   * writers (a rotation, an exchange, a binding change) never undo each other's fields.
   * `change` sees the stored record and returns the one to store, or null to leave it be.
   * A revocation is not an update (it is a marker of its own): a record saved active after the
   * marker appeared is saved again revoked, without its Webex tokens.
   */
  async update(
    id: string,
    change: (current: GrantRecord) => GrantRecord | null,
  ): Promise<GrantRecord | null> {
    const key = lockKey(id);
    const holder = randomToken(12);
    // Counted in attempts, not by the flows' clock (which tests may stop).
    for (let attempt = 0; !(await this.deps.store.setIfAbsent(key, holder, LOCK_TTL_MS));) {
      if (++attempt > LOCK_WAIT_MS / LOCK_RETRY_MS) {
        throw new OAuthError(
          503,
          'temporarily_unavailable',
          'This grant is being updated by another request; retry in a second.',
          { headers: { 'Retry-After': '1' } },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
    try {
      const current = await this.load(id);
      const next = current && change(current);
      if (!next) return null;
      await this.save(next);
      const revoked = next.state === 'active' ? await this.readRevoked(id) : null;
      if (!revoked) return next;
      const scrubbed: GrantRecord = { ...next, state: 'revoked', revoked, webex: null };
      await this.save(scrubbed);
      return scrubbed;
    } finally {
      // Ours unless it outlived LOCK_TTL_MS (a stalled process): then another holder's, kept.
      if ((await this.deps.store.get(key).catch(() => null)) === holder) {
        await this.deps.store.delete(key).catch(() => undefined);
      }
    }
  }

  /**
   * Bind grant `id` to other CI jobs (a narrower or wider width), or to none (`null`: no job
   * can exchange for it any more; its refresh token, if any, still works). Keeps the workload
   * index true. Null when the grant is unknown, expired or revoked.
   */
  async setBinding(id: string, binding: WorkloadBinding | null): Promise<GrantRecord | null> {
    let before: WorkloadBinding | null = null;
    const updated = await this.update(id, (current) => {
      if (current.state !== 'active') return null;
      before = current.requester.workload;
      return { ...current, requester: { ...current.requester, workload: binding } };
    });
    if (!updated) return null;
    // The new listing before the old one goes: a job matching both is never left unlisted.
    await this.index(updated);
    const oldKey = before && this.workloadKey(before);
    if (oldKey && oldKey !== (binding && this.workloadKey(binding))) {
      await this.deps.store.setRemove(oldKey, id);
    }
    return updated;
  }

  private workloadKey(binding: WorkloadBinding): string {
    return workloadIndexKey(this.deps.sealer.hasher, binding);
  }

  /**
   * Grants that may be bound to a job with this verified token: those bound to its exact `sub`
   * and those widened to its repository (at most two set reads, whatever the number of grants).
   * Candidates only: check each with matchesBinding.
   */
  async idsForWorkload(
    verified: Pick<VerifiedWorkload, 'issuer' | 'audience' | 'sub'>,
  ): Promise<string[]> {
    const keys = workloadCandidateKeys(this.deps.sealer.hasher, verified);
    const sets = await Promise.all(keys.map((k) => this.deps.store.setMembers(k)));
    return [...new Set(sets.flat())];
  }

  /** Lists the grant where the console and the exchange look. */
  async index(record: GrantRecord): Promise<void> {
    const ttl = this.lifetime(record);
    const binding = record.requester.workload;
    const keys = [allIndexKey];
    if (record.approver.email)
      keys.push(emailIndexKey(this.indexDigest('email', record.approver.email)));
    if (record.approver.orgId)
      keys.push(orgIndexKey(this.indexDigest('org', record.approver.orgId)));
    await Promise.all([
      ...keys.map((k) => this.deps.store.setAdd(k, record.id, ttl)),
      record.state === 'active'
        ? this.deps.store.setAdd(activeIndexKey, record.id, ttl)
        : this.deps.store.setRemove(activeIndexKey, record.id),
      // Only live grants can be exchanged for; an expired member goes with its TTL.
      binding && record.state === 'active'
        ? this.deps.store.setAdd(this.workloadKey(binding), record.id, ttl)
        : binding
          ? this.deps.store.setRemove(this.workloadKey(binding), record.id)
          : Promise.resolve(),
    ]);
  }

  /** Grants neither revoked nor expired (for the wst_grants_active gauge). */
  async countActive(): Promise<number> {
    return (await this.deps.store.setMembers(activeIndexKey)).length;
  }

  private indexDigest(kind: 'email' | 'org', value: string): string {
    // Emails and org ids are personal data: key names carry their keyed hash only.
    return this.deps.sealer.hasher.digest(`grant_index_${kind}`, value.trim().toLowerCase());
  }

  async idsForApprover(email: string): Promise<string[]> {
    return this.deps.store.setMembers(emailIndexKey(this.indexDigest('email', email)));
  }

  async idsForOrg(orgId: string): Promise<string[]> {
    return this.deps.store.setMembers(orgIndexKey(this.indexDigest('org', orgId)));
  }

  async allIds(): Promise<string[]> {
    return this.deps.store.setMembers(allIndexKey);
  }

  /** Records the revocation; true for the first one (which alone is counted and logged). */
  async markRevoked(id: string, marker: RevokedMarker, ttlMs: number): Promise<boolean> {
    const key = revokedKey(id);
    return this.deps.store.setIfAbsent(key, this.seal(key, 'grant_revoked', marker), ttlMs);
  }

  /** Records an admin's binding change; the record is saved with it too (see `load`). */
  async markBinding(id: string, marker: BindingMarker, ttlMs: number): Promise<void> {
    const key = bindingKey(id);
    await this.deps.store.set(key, this.seal(key, 'grant_binding', marker), ttlMs, {
      durable: true,
    });
  }

  async readRevoked(id: string): Promise<RevokedMarker | null> {
    const key = revokedKey(id);
    return this.open<RevokedMarker>(key, 'grant_revoked', await this.deps.store.get(key));
  }

  // Managed refresh tokens.

  async readPointer(digest: string): Promise<TokenPointer | null> {
    const key = pointerKey(digest);
    return this.open<TokenPointer>(key, 'grant_pointer', await this.deps.store.get(key));
  }

  async writePointer(digest: string, pointer: TokenPointer, ttlMs: number): Promise<void> {
    const key = pointerKey(digest);
    await this.deps.store.set(key, this.seal(key, 'grant_pointer', pointer), ttlMs, {
      durable: true,
    });
  }

  async deletePointer(digest: string): Promise<void> {
    await this.deps.store.delete(pointerKey(digest));
  }

  /**
   * The one atomic step of a rotation: of any number of concurrent refreshes with the same
   * token, exactly one marks it rotated out and goes on; the others find the mark (reuse).
   */
  async claimRotation(digest: string, marker: RotatedMarker, ttlMs: number): Promise<boolean> {
    const key = rotatedKey(digest);
    return this.deps.store.setIfAbsent(key, this.seal(key, 'grant_rotated', marker), ttlMs);
  }

  /** Undo a claim whose rotation could not finish (Webex busy): the token stays usable. */
  async releaseRotation(digest: string): Promise<void> {
    await this.deps.store.delete(rotatedKey(digest));
  }

  async readRotated(digest: string): Promise<RotatedMarker | null> {
    const key = rotatedKey(digest);
    return this.open<RotatedMarker>(key, 'grant_rotated', await this.deps.store.get(key));
  }

  async writeAnswer(digest: string, answer: unknown, ttlMs: number): Promise<void> {
    const key = answerKey(digest);
    await this.deps.store.set(key, this.seal(key, 'grant_answer', answer), ttlMs);
  }

  async readAnswer<T>(digest: string): Promise<T | null> {
    const key = answerKey(digest);
    return this.open<T>(key, 'grant_answer', await this.deps.store.get(key));
  }

  // Webex refresh tokens the service delivered.

  async readDelivered(digest: string): Promise<TokenPointer | null> {
    const key = deliveredKey(digest);
    return this.open<TokenPointer>(key, 'grant_delivered', await this.deps.store.get(key));
  }

  async writeDelivered(digest: string, pointer: TokenPointer, ttlMs: number): Promise<void> {
    const key = deliveredKey(digest);
    await this.deps.store.set(key, this.seal(key, 'grant_delivered', pointer), ttlMs, {
      durable: true,
    });
  }

  async deleteDelivered(digest: string): Promise<void> {
    await this.deps.store.delete(deliveredKey(digest));
  }
}
