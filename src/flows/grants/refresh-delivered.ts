/**
 * The refresh_token grant for Webex refresh tokens (REFRESH_TOKENS=webex): refreshed at Webex
 * only when the service delivered them, for the client they were delivered to.
 */
import { HttpError, OAuthError } from '../../errors';
import type { WebexTokens } from '../../webex/client';
import type { FlowDeps } from '../context';
import type { TokenPointer } from './markers';
import { type GrantRecord, grantExpiry } from './model';
import type { RefreshAnswer, RefreshInput } from './refresh';
import { Refusal, checkUsable, unusableRefreshToken as invalidGrant } from './renewal';
import { GrantRepository } from './repository';
import { revokeGrant } from './revoke';

/** The grant behind a pointer, if it may still be refreshed from this org. */
export async function usableGrant(
  deps: FlowDeps,
  repo: GrantRepository,
  pointer: TokenPointer,
  input: Pick<RefreshInput, 'client'>,
): Promise<GrantRecord> {
  const grant = await repo.load(pointer.grantId);
  if (!grant || grant.clientId !== input.client.id) {
    throw new Refusal('unknown_token', invalidGrant(), pointer.grantId);
  }
  checkUsable(deps, grant);
  return grant;
}

/** A Webex refresh token: refreshed only if the service delivered it, to this client. */
export async function refreshDelivered(
  deps: FlowDeps,
  input: RefreshInput,
): Promise<RefreshAnswer> {
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
  const updated =
    (await repo.update(grant.id, (current) => ({
      ...current,
      tokenDigest: nextDigest,
      lastUsedAt: at,
      lastUsedFrom: input.address,
      useCount: current.useCount + 1,
      webexRefreshExpiresAt,
      expiresAt: grantExpiry(deps.config, webexRefreshExpiresAt, at),
    }))) ?? grant;
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
