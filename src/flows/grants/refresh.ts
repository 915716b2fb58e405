/**
 * The refresh_token grant (RFC 6749 §6) over grants, with rotation and reuse detection
 * (RFC 9700 §4.14.2).
 *
 * Managed tokens (wst_rt_…): each refresh answers Webex's current access token and a new
 * service refresh token; the presented one is rotated out. Webex is called only when the
 * stored access token has used up half its lifetime, or the caller sends
 * `fresh_access_token=true` (Webex answers the same token for about a day after issuing it, so
 * asking sooner gains nothing). Presenting a rotated-out token again is reuse: the grant is
 * revoked, unless REFRESH_REUSE_GRACE_SECONDS lets the same client have the same answer again.
 *
 * Webex refresh tokens (REFRESH_TOKENS=webex): refreshed at Webex only when the service
 * delivered them, for the client they were delivered to.
 *
 * Either way: the org allowlist is checked again, refreshes are rate-limited per client and
 * address, a token the service does not know never reaches Webex, and every refusal is audited.
 */
import type { DeviceClientConfig } from '../../config';
import { OAuthError } from '../../errors';
import type { FlowDeps } from '../context';
import { addressId, type RateLimitRule } from '../rate-limit';
import { type IssuedTokens, newServiceToken } from './issue';
import type { RotatedMarker } from './markers';
import { type GrantRecord, grantExpiry, isServiceToken } from './model';
import { refreshDelivered, usableGrant } from './refresh-delivered';
import {
  Refusal,
  needsRenewal,
  newer,
  renewAtWebex,
  unusableRefreshToken as invalidGrant,
} from './renewal';
import { GrantRepository } from './repository';
import { revokeGrant } from './revoke';

export interface RefreshInput {
  token: string;
  client: DeviceClientConfig;
  address: string;
  userAgent: string;
  /** The caller asked for a new Webex access token even if the stored one is still young. */
  freshAccessToken: boolean;
}

/** What a refresh answers, with the grant it belongs to. */
export interface RefreshAnswer {
  grantId: string;
  tokens: IssuedTokens;
}

export type RefreshOutcome =
  | 'ok'
  | 'webex_renewed'
  | 'replayed'
  | 'unknown_token'
  | 'client_mismatch'
  | 'org_not_allowed'
  | 'revoked'
  | 'reuse_detected'
  | 'webex_refused'
  | 'unavailable'
  | 'in_progress';

export const refreshRule = (deps: FlowDeps): RateLimitRule => ({
  name: 'refresh',
  limit: deps.config.rateLimit.refreshes,
  windowSeconds: deps.config.rateLimit.windowSeconds,
  what: 'refresh requests',
});

export async function refreshGrant(deps: FlowDeps, input: RefreshInput): Promise<RefreshAnswer> {
  // Counted before anything else, so guessing tokens costs the guesser, not Webex.
  await deps.limiter.hit(refreshRule(deps), `${input.client.id} ${addressId(input.address)}`);
  try {
    const answer = isServiceToken(input.token)
      ? await refreshManaged(deps, input)
      : await refreshDelivered(deps, input);
    return answer;
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    deps.metrics.grantRefreshes.inc({ outcome: err.outcome });
    deps.logger.info(
      {
        event: 'grant_refresh_failed',
        reason: err.outcome,
        grant: err.grantId,
        client: input.client.id,
        address: input.address,
      },
      'refresh refused',
    );
    throw err.error;
  }
}

async function refreshManaged(deps: FlowDeps, input: RefreshInput): Promise<RefreshAnswer> {
  const repo = new GrantRepository(deps);
  const digest = repo.digest('grant_refresh_token', input.token);
  const pointer = await repo.readPointer(digest);
  if (!pointer) return presentedAgain(deps, repo, digest, input);
  if (pointer.clientId !== input.client.id) {
    throw new Refusal('client_mismatch', invalidGrant(), pointer.grantId);
  }
  const grant = await usableGrant(deps, repo, pointer, input);
  if (grant.generation !== pointer.generation || grant.tokenDigest !== digest || !grant.webex) {
    // A pointer left behind by an interrupted rotation: this token is no longer the current one.
    return presentedAgain(deps, repo, digest, input);
  }

  const now = deps.now();
  const marker: RotatedMarker = { ...pointer, rotatedAt: now };
  if (!(await repo.claimRotation(digest, marker, repo.lifetime(grant)))) {
    // Another request is rotating (or has rotated) this very token.
    return presentedAgain(deps, repo, digest, input);
  }

  let updated: GrantRecord;
  let serviceToken: string;
  let renew: boolean;
  try {
    ({ updated, serviceToken, renew } = await rotate(deps, repo, grant, input));
  } catch (err) {
    // Nothing was committed: give the presented token back, so a retry can succeed.
    if (!(err instanceof Refusal && err.outcome === 'webex_refused')) {
      await repo.releaseRotation(digest).catch(() => undefined);
    }
    throw err;
  }
  const webex = updated.webex!;
  const at = updated.lastUsedAt!;
  const answer: RefreshAnswer = {
    grantId: grant.id,
    tokens: {
      access_token: webex.accessToken,
      token_type: webex.tokenType,
      expires_in: Math.max(0, Math.floor((webex.accessTokenExpiresAt - at) / 1000)),
      refresh_token: serviceToken,
      refresh_token_expires_in: Math.floor((updated.expiresAt - at) / 1000),
      scope: grant.scopes.join(' '),
    },
  };
  const grace = deps.config.grants.reuseGraceSeconds;
  if (grace > 0) await repo.writeAnswer(digest, answer, grace * 1000);
  await repo.deletePointer(digest);

  // A revocation that raced this rotation (an admin, or reuse detected by a concurrent request
  // with the same token) wins: the new refresh token is dropped again. The answer still goes
  // out, as any answer sent a moment before the revocation would have: its access token was
  // valid at Webex anyway, and its refresh token no longer works.
  if (await repo.readRevoked(grant.id)) {
    await revokeGrant(deps, grant.id, { kind: 'service' });
  } else {
    await repo.index(updated);
  }
  const outcome = renew ? 'webex_renewed' : 'ok';
  deps.metrics.grantRefreshes.inc({ outcome });
  deps.logger.info(
    {
      event: 'grant_refreshed',
      grant: grant.id,
      client: grant.clientId,
      address: input.address,
      webexCalled: renew,
      useCount: updated.useCount,
    },
    'grant refreshed: refresh token rotated',
  );
  return answer;
}

/**
 * The rotation proper, after the claim: a Webex access token (renewed when due), then the new
 * token's pointer, then the grant record naming it, which commits the rotation. A failure
 * before that last write leaves the grant as it was. The record is changed under the grant's
 * update lock, over what is stored then, so an exchange's use of the same grant is kept.
 */
async function rotate(
  deps: FlowDeps,
  repo: GrantRepository,
  grant: GrantRecord,
  input: RefreshInput,
): Promise<{ updated: GrantRecord; serviceToken: string; renew: boolean }> {
  const renew = input.freshAccessToken || needsRenewal(grant.webex!, deps.now());
  const renewed = renew ? await renewAtWebex(deps, grant, grant.webex!) : null;
  const serviceToken = newServiceToken();
  const nextDigest = repo.digest('grant_refresh_token', serviceToken);
  const generation = grant.generation + 1;
  const at = deps.now();
  const refreshExpiry = renewed?.webexRefreshExpiresAt ?? grant.webexRefreshExpiresAt;
  const pointer = { grantId: grant.id, generation, clientId: grant.clientId };
  await repo.writePointer(
    nextDigest,
    pointer,
    Math.max(1000, grantExpiry(deps.config, refreshExpiry, at) - at),
  );
  let committed: GrantRecord | null = null;
  try {
    await repo.update(grant.id, (current) => {
      if (
        current.state !== 'active' ||
        current.generation !== grant.generation ||
        current.tokenDigest !== grant.tokenDigest ||
        !current.webex
      ) {
        return null;
      }
      const webex = renewed ? newer(renewed.webex, current.webex) : current.webex;
      const webexRefreshExpiresAt =
        renewed && webex === renewed.webex
          ? renewed.webexRefreshExpiresAt
          : current.webexRefreshExpiresAt;
      committed = {
        ...current,
        generation,
        tokenDigest: nextDigest,
        lastUsedAt: at,
        lastUsedFrom: input.address,
        useCount: current.useCount + 1,
        webex,
        webexRefreshExpiresAt,
        expiresAt: grantExpiry(deps.config, webexRefreshExpiresAt, at),
      };
      return committed;
    });
  } catch (err) {
    await repo.deletePointer(nextDigest).catch(() => undefined);
    throw err;
  }
  if (!committed) {
    // Revoked while Webex was asked (the record changed under this rotation in no other way).
    await repo.deletePointer(nextDigest).catch(() => undefined);
    throw new Refusal('revoked', invalidGrant(), grant.id);
  }
  return { updated: committed, serviceToken, renew };
}

/**
 * A managed token that is not the current one of any grant: rotated out (a retry within the
 * grace window, or reuse), or simply unknown.
 */
async function presentedAgain(
  deps: FlowDeps,
  repo: GrantRepository,
  digest: string,
  input: RefreshInput,
): Promise<RefreshAnswer> {
  const rotated = await repo.readRotated(digest);
  if (!rotated) throw new Refusal('unknown_token', invalidGrant());
  if (rotated.clientId !== input.client.id) {
    throw new Refusal('client_mismatch', invalidGrant(), rotated.grantId);
  }
  const grace = deps.config.grants.reuseGraceSeconds;
  if (grace > 0 && deps.now() - rotated.rotatedAt <= grace * 1000) {
    const answer = await repo.readAnswer<RefreshAnswer>(digest);
    const grant = await repo.load(rotated.grantId);
    if (grant?.state === 'revoked') throw new Refusal('revoked', invalidGrant(), rotated.grantId);
    if (answer) {
      deps.metrics.grantRefreshes.inc({ outcome: 'replayed' });
      deps.logger.info(
        {
          event: 'grant_refresh_replayed',
          grant: rotated.grantId,
          client: input.client.id,
          address: input.address,
        },
        'a just-rotated refresh token was presented again within the grace period: same answer',
      );
      return answer;
    }
    throw new Refusal(
      'in_progress',
      new OAuthError(
        503,
        'temporarily_unavailable',
        'A refresh with this token is still in progress; retry in a second to get its answer.',
        { headers: { 'Retry-After': '1' } },
      ),
      rotated.grantId,
    );
  }
  const grant = await repo.load(rotated.grantId);
  if (grant && grant.state === 'active') {
    deps.metrics.grantReuseDetections.inc();
    deps.logger.warn(
      {
        event: 'grant_reuse_detected',
        grant: grant.id,
        client: input.client.id,
        address: input.address,
        userAgent: input.userAgent.slice(0, 200),
        generation: rotated.generation,
        rotatedSecondsAgo: Math.round((deps.now() - rotated.rotatedAt) / 1000),
        approvedBy: grant.approver.email,
        orgId: grant.approver.orgId,
        lastUsedFrom: grant.lastUsedFrom,
      },
      'a rotated-out refresh token was presented again: the grant is revoked (its tokens may have been copied)',
    );
    await revokeGrant(deps, grant.id, { kind: 'service' }, 'reuse_detected');
  }
  throw new Refusal('reuse_detected', invalidGrant(), rotated.grantId);
}
