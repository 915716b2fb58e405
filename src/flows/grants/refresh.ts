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
import { HttpError, OAuthError, UpstreamError } from '../../errors';
import type { WebexTokens } from '../../webex/client';
import type { FlowDeps } from '../context';
import { addressId, type RateLimitRule } from '../rate-limit';
import { type IssuedTokens, newServiceToken } from './issue';
import { type GrantRecord, grantExpiry, isServiceToken, orgAllowed } from './model';
import { GrantRepository, type RotatedMarker, type TokenPointer } from './repository';
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

/** The one refusal for every token the caller may not use: it tells nothing about why. */
function invalidGrant(message?: string): OAuthError {
  return new OAuthError(
    400,
    'invalid_grant',
    message ??
      'This refresh token is not valid: it is unknown, expired, revoked, already used, or was issued to another client. Run "webex-token login" (the device flow) again to get new tokens.',
  );
}

class Refusal extends Error {
  constructor(
    readonly outcome: RefreshOutcome,
    readonly error: HttpError,
    readonly grantId: string | null = null,
  ) {
    super(outcome);
  }
}

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

  let webex = grant.webex;
  let webexRefreshExpiresAt = grant.webexRefreshExpiresAt;
  const renew = input.freshAccessToken || needsRenewal(webex, now);
  if (renew) {
    let fresh: WebexTokens;
    try {
      fresh = await deps.webex.refresh(webex.refreshToken);
    } catch (err) {
      await webexFailed(deps, repo, grant, digest, err);
      throw err;
    }
    const at = deps.now();
    webex = {
      accessToken: fresh.access_token,
      tokenType: fresh.token_type,
      accessTokenIssuedAt: at,
      accessTokenExpiresAt: at + fresh.expires_in * 1000,
      refreshToken: fresh.refresh_token,
    };
    webexRefreshExpiresAt = at + fresh.refresh_token_expires_in * 1000;
  }

  const serviceToken = newServiceToken();
  const nextDigest = repo.digest('grant_refresh_token', serviceToken);
  const at = deps.now();
  const updated: GrantRecord = {
    ...grant,
    generation: grant.generation + 1,
    tokenDigest: nextDigest,
    lastUsedAt: at,
    lastUsedFrom: input.address,
    useCount: grant.useCount + 1,
    webex,
    webexRefreshExpiresAt,
    expiresAt: grantExpiry(deps.config, webexRefreshExpiresAt, at),
  };
  const ttl = repo.lifetime(updated);
  await repo.save(updated);
  await repo.writePointer(
    nextDigest,
    { grantId: grant.id, generation: updated.generation, clientId: grant.clientId },
    ttl,
  );
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

  // A revocation that raced this rotation wins: undo what was just written.
  if (await repo.readRevoked(grant.id)) {
    await revokeGrant(deps, grant.id, { kind: 'service' });
    throw new Refusal('revoked', invalidGrant(), grant.id);
  }
  await repo.index(updated);
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

/** Half the access token's lifetime used up (Webex's are ~14 days: renewed after ~7). */
function needsRenewal(webex: NonNullable<GrantRecord['webex']>, now: number): boolean {
  const lifetime = webex.accessTokenExpiresAt - webex.accessTokenIssuedAt;
  return now >= webex.accessTokenIssuedAt + lifetime / 2;
}

/**
 * Webex failed during a rotation. Busy or down (429, 5xx, timeouts): the claim is undone so
 * the presented token keeps working, and the caller is told to retry. Webex refused the
 * refresh token itself: the grant is over.
 */
async function webexFailed(
  deps: FlowDeps,
  repo: GrantRepository,
  grant: GrantRecord,
  digest: string,
  err: unknown,
): Promise<never> {
  if (err instanceof OAuthError && err.code === 'invalid_grant') {
    await revokeGrant(deps, grant.id, { kind: 'service' }, 'webex_refused');
    throw new Refusal(
      'webex_refused',
      invalidGrant(
        'Webex no longer accepts the refresh token behind this grant (it expired at Webex, or access was revoked there), so the grant has ended. Run "webex-token login" (the device flow) again to get new tokens.',
      ),
      grant.id,
    );
  }
  await repo.releaseRotation(digest).catch(() => undefined);
  const status = err instanceof HttpError ? err.status : 502;
  throw new Refusal(
    'unavailable',
    err instanceof UpstreamError || (err instanceof HttpError && status >= 500)
      ? (err as HttpError)
      : new OAuthError(502, 'temporarily_unavailable', 'Webex did not renew the access token.', {
          headers: { 'Retry-After': '30' },
        }),
    grant.id,
  );
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

/** The grant behind a pointer, if it may still be refreshed from this org. */
async function usableGrant(
  deps: FlowDeps,
  repo: GrantRepository,
  pointer: TokenPointer,
  input: RefreshInput,
): Promise<GrantRecord> {
  const grant = await repo.load(pointer.grantId);
  if (!grant || grant.clientId !== input.client.id) {
    throw new Refusal('unknown_token', invalidGrant(), pointer.grantId);
  }
  if (grant.state !== 'active') throw new Refusal('revoked', invalidGrant(), grant.id);
  if (!orgAllowed(deps.config, grant.approver.orgId)) {
    throw new Refusal(
      'org_not_allowed',
      invalidGrant(
        'The Webex organization of the admin who approved these tokens is no longer served by this service (ALLOWED_ORG_IDS), so they cannot be refreshed. Ask the operators, or have an admin of an allowed organization approve a new request.',
      ),
      grant.id,
    );
  }
  return grant;
}

/** A Webex refresh token: refreshed only if the service delivered it, to this client. */
async function refreshDelivered(deps: FlowDeps, input: RefreshInput): Promise<RefreshAnswer> {
  const repo = new GrantRepository(deps);
  if (input.token.length > 8192) throw new Refusal('unknown_token', invalidGrant());
  const digest = repo.digest('webex_refresh_token', input.token);
  const pointer = await repo.readDelivered(digest);
  if (!pointer) throw new Refusal('unknown_token', invalidGrant());
  if (pointer.clientId !== input.client.id) {
    throw new Refusal('client_mismatch', invalidGrant(), pointer.grantId);
  }
  const grant = await usableGrant(deps, repo, pointer, input);
  let fresh: WebexTokens;
  try {
    fresh = await deps.webex.refresh(input.token);
  } catch (err) {
    if (err instanceof OAuthError && err.code === 'invalid_grant') {
      await revokeGrant(deps, grant.id, { kind: 'service' }, 'webex_refused');
      throw new Refusal('webex_refused', err, grant.id);
    }
    throw new Refusal('unavailable', err instanceof HttpError ? err : invalidGrant(), grant.id);
  }
  const at = deps.now();
  const nextDigest = repo.digest('webex_refresh_token', fresh.refresh_token);
  const webexRefreshExpiresAt = at + fresh.refresh_token_expires_in * 1000;
  const updated: GrantRecord = {
    ...grant,
    tokenDigest: nextDigest,
    lastUsedAt: at,
    lastUsedFrom: input.address,
    useCount: grant.useCount + 1,
    webexRefreshExpiresAt,
    expiresAt: grantExpiry(deps.config, webexRefreshExpiresAt, at),
  };
  await repo.save(updated);
  // A token returned by a refresh through the service counts as delivered. The one presented
  // (usually the same: Webex does not rotate) stays registered until Webex's own expiry.
  await repo.writeDelivered(
    nextDigest,
    { grantId: grant.id, generation: grant.generation, clientId: grant.clientId },
    fresh.refresh_token_expires_in * 1000,
  );
  if (await repo.readRevoked(grant.id)) {
    await revokeGrant(deps, grant.id, { kind: 'service' });
    throw new Refusal('revoked', invalidGrant(), grant.id);
  }
  await repo.index(updated);
  deps.metrics.grantRefreshes.inc({ outcome: 'webex_renewed' });
  deps.logger.info(
    {
      event: 'grant_refreshed',
      grant: grant.id,
      client: grant.clientId,
      address: input.address,
      webexCalled: true,
      useCount: updated.useCount,
    },
    'grant refreshed at Webex (Webex refresh token)',
  );
  return {
    grantId: grant.id,
    tokens: {
      access_token: fresh.access_token,
      token_type: fresh.token_type,
      expires_in: fresh.expires_in,
      refresh_token: fresh.refresh_token,
      refresh_token_expires_in: Math.floor((updated.expiresAt - at) / 1000),
      scope: grant.scopes.join(' '),
    },
  };
}
