/**
 * A grant starts when its script picks up the tokens of an approved handoff (the handoff's
 * atomic take guarantees one grant per approval). Until then the approval's tokens sit sealed
 * in the handoff's result; a handoff that is never picked up leaves no grant behind.
 */
import { randomToken } from '../../crypto';
import type { WebexTokens } from '../../webex/client';
import type { FlowDeps } from '../context';
import { type GrantRecord, type WorkloadBinding, SERVICE_TOKEN_PREFIX, grantExpiry } from './model';
import { GrantRepository } from './repository';

/** What the token endpoint answers a script (RFC 6749 §5.1), in either mode. */
export interface IssuedTokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  refresh_token_expires_in: number;
  scope: string;
}

export interface GrantSource {
  clientId: string;
  clientName: string;
  scopes: string[];
  requester: { address: string; userAgent: string; workload?: WorkloadBinding | null };
  approver?: { name?: string | null; email: string | null; orgId: string | null };
}

export function newServiceToken(): string {
  return `${SERVICE_TOKEN_PREFIX}${randomToken(32)}`;
}

/**
 * Create the grant for a delivered handoff and say what the script receives: in managed mode
 * Webex's access token and a fresh service refresh token (Webex's refresh token stays sealed
 * in the grant); in webex mode Webex's tokens as they are, with the refresh token registered.
 */
export async function issueGrant(
  deps: FlowDeps,
  source: GrantSource,
  tokens: WebexTokens,
): Promise<{ grantId: string; tokens: IssuedTokens }> {
  const repo = new GrantRepository(deps);
  const now = deps.now();
  const mode = deps.config.grants.refreshTokens;
  const scope = tokens.scope?.trim() ? tokens.scope.trim() : source.scopes.join(' ');
  const webexRefreshExpiresAt = now + tokens.refresh_token_expires_in * 1000;
  const serviceToken = mode === 'managed' ? newServiceToken() : null;
  const digest = serviceToken
    ? repo.digest('grant_refresh_token', serviceToken)
    : repo.digest('webex_refresh_token', tokens.refresh_token);
  const record: GrantRecord = {
    v: 1,
    id: randomToken(16),
    mode,
    clientId: source.clientId,
    clientName: source.clientName,
    scopes: scope.split(/\s+/).filter(Boolean),
    approver: {
      name: source.approver?.name ?? null,
      email: source.approver?.email ?? null,
      orgId: source.approver?.orgId ?? null,
    },
    requester: {
      address: source.requester.address,
      userAgent: source.requester.userAgent,
      workload: source.requester.workload ?? null,
    },
    createdAt: now,
    lastUsedAt: null,
    lastUsedFrom: null,
    useCount: 0,
    state: 'active',
    revoked: null,
    webexRefreshExpiresAt,
    expiresAt: grantExpiry(deps.config, webexRefreshExpiresAt, now),
    generation: 1,
    tokenDigest: digest,
    webex: serviceToken
      ? {
          accessToken: tokens.access_token,
          tokenType: tokens.token_type,
          accessTokenIssuedAt: now,
          accessTokenExpiresAt: now + tokens.expires_in * 1000,
          refreshToken: tokens.refresh_token,
        }
      : null,
  };
  const ttl = repo.lifetime(record);
  // The record before its pointer: a pointer never names a grant that is not there.
  await repo.save(record);
  const pointer = { grantId: record.id, generation: record.generation, clientId: record.clientId };
  if (serviceToken) await repo.writePointer(digest, pointer, ttl);
  else await repo.writeDelivered(digest, pointer, tokens.refresh_token_expires_in * 1000);
  await repo.index(record);
  deps.metrics.grantsIssued.inc({ mode });
  deps.logger.info(
    {
      event: 'grant_created',
      grant: record.id,
      mode,
      client: record.clientId,
      scopes: record.scopes,
      by: record.approver.email,
      orgId: record.approver.orgId,
      address: record.requester.address,
      expiresAt: new Date(record.expiresAt).toISOString(),
    },
    mode === 'managed'
      ? "grant created: the script holds a service refresh token, Webex's stays sealed here"
      : "grant created: the script holds Webex's refresh token, registered for its client",
  );
  return {
    grantId: record.id,
    tokens: {
      access_token: tokens.access_token,
      token_type: tokens.token_type,
      expires_in: tokens.expires_in,
      refresh_token: serviceToken ?? tokens.refresh_token,
      refresh_token_expires_in: Math.floor((record.expiresAt - now) / 1000),
      scope,
    },
  };
}
