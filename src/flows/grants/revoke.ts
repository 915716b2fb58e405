/**
 * Ending a grant: its refresh tokens stop working at once and the sealed Webex tokens are
 * dropped; the record stays visible (revoked, with who and why) for REVOKED_RETENTION_MS.
 * Access tokens already handed out stay valid at Webex until they expire: the service cannot
 * recall them (an admin can, in Control Hub or with Webex's Authorizations API).
 */
import type { DeviceClientConfig } from '../../config';
import type { FlowDeps } from '../context';
import type { Revoker } from '../revocation';
import {
  type GrantActor,
  type GrantRecord,
  type GrantView,
  type RevokeReason,
  isServiceToken,
  toView,
} from './model';
import { GrantRepository, REVOKED_RETENTION_MS } from './repository';

/** The metric label for who ended a grant. */
function revokedBy(actor: GrantActor, reason: RevokeReason): string {
  if (reason === 'reuse_detected') return 'reuse';
  if (reason === 'webex_refused') return 'webex';
  return actor.kind;
}

function describeActor(actor: GrantActor): Record<string, string> {
  switch (actor.kind) {
    case 'client':
      return { kind: 'client', client: actor.clientId, address: actor.address };
    case 'admin':
      return { kind: 'admin', email: actor.email, address: actor.address };
    default:
      return { kind: 'service' };
  }
}

/**
 * Revoke grant `id`. Idempotent: revoking a revoked grant keeps the first revocation (who, when,
 * why) and returns the grant; null when no such grant exists (or it expired). Safe against a
 * refresh running at the same moment: the revocation is a marker of its own, which `load`
 * applies to the record and a rotation checks after committing.
 */
export async function revokeGrant(
  deps: FlowDeps,
  id: string,
  actor: GrantActor,
  reason: RevokeReason = 'revoked',
): Promise<GrantView | null> {
  const repo = new GrantRepository(deps);
  if (!(await repo.load(id))) return null;
  // The marker first, then the record as it is now: a rotation that commits after the marker
  // sees it (and scrubs again); one that committed before is what is read and scrubbed here.
  const marker = { at: deps.now(), by: actor, reason };
  const first = await repo.markRevoked(id, marker, REVOKED_RETENTION_MS);
  const current = await repo.load(id);
  if (!current) return null;
  await scrub(repo, current);
  if (first) {
    deps.metrics.grantRevocations.inc({ by: revokedBy(actor, reason) });
    deps.logger.info(
      {
        event: 'grant_revoked',
        grant: id,
        reason,
        by: describeActor(actor),
        client: current.clientId,
        approvedBy: current.approver.email,
        orgId: current.approver.orgId,
      },
      reason === 'reuse_detected'
        ? 'grant revoked: a rotated-out refresh token was presented again'
        : reason === 'webex_refused'
          ? 'grant ended: Webex no longer accepts its refresh token'
          : 'grant revoked',
    );
  }
  return toView(current);
}

/** Write the revoked record (no tokens) and forget its current refresh token. */
async function scrub(repo: GrantRepository, record: GrantRecord): Promise<void> {
  const revoked: GrantRecord = { ...record, state: 'revoked', webex: null };
  await repo.save(revoked);
  if (record.tokenDigest) {
    if (record.mode === 'managed') await repo.deletePointer(record.tokenDigest);
    else await repo.deleteDelivered(record.tokenDigest);
  }
  await repo.index(revoked);
}

/**
 * RFC 7009 for refresh tokens: a service refresh token (current or rotated out) revokes its
 * grant; a Webex refresh token the service delivered revokes the grant it was delivered for.
 * Only the client the token was issued to can revoke with it.
 */
export const refreshTokenRevoker: Revoker = {
  hints: ['refresh_token'],
  async revoke(deps, token, client, context) {
    const grantId = await grantOfToken(deps, token, client);
    if (!grantId) return false;
    const view = await revokeGrant(deps, grantId, {
      kind: 'client',
      clientId: client.id,
      address: context.address,
    });
    return view !== null;
  },
};

async function grantOfToken(
  deps: FlowDeps,
  token: string,
  client: DeviceClientConfig,
): Promise<string | null> {
  const repo = new GrantRepository(deps);
  if (isServiceToken(token)) {
    const digest = repo.digest('grant_refresh_token', token);
    const pointer = (await repo.readPointer(digest)) ?? (await repo.readRotated(digest));
    return pointer && pointer.clientId === client.id ? pointer.grantId : null;
  }
  if (token.length > 8192) return null;
  const pointer = await repo.readDelivered(repo.digest('webex_refresh_token', token));
  return pointer && pointer.clientId === client.id ? pointer.grantId : null;
}
