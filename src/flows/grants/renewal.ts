/**
 * What the refresh_token grant and the token exchange share: the refusal they carry up to the
 * audit line, the checks that a grant may still be used, and renewing Webex's access token
 * when it has used up half its lifetime.
 */
import { HttpError, OAuthError, UpstreamError, invalidGrant } from '../../errors';
import type { WebexTokens } from '../../webex/client';
import type { FlowDeps } from '../context';
import { type GrantRecord, type SealedWebexTokens, orgAllowed } from './model';
import { revokeGrant } from './revoke';

/** The one refusal for every refresh token the caller may not use: it tells nothing about why. */
export function unusableRefreshToken(message?: string): OAuthError {
  return invalidGrant(
    message ??
      'This refresh token is not valid: it is unknown, expired, revoked, already used, or was issued to another client. Run "webex-token login" (the device flow) again to get new tokens.',
  );
}

/** A refusal on its way to the caller, with the outcome and grant its audit line names. */
export class Refusal extends Error {
  constructor(
    readonly outcome: string,
    readonly error: HttpError,
    readonly grantId: string | null = null,
  ) {
    super(outcome);
  }
}

export const ORG_NOT_ALLOWED =
  'The Webex organization of the admin who approved these tokens is no longer served by this service (ALLOWED_ORG_IDS), so they cannot be refreshed. Ask the operators, or have an admin of an allowed organization approve a new request.';

/** A grant's state and org, checked at every refresh and exchange. */
export function checkUsable(
  deps: FlowDeps,
  grant: GrantRecord,
  refuse: (message?: string) => OAuthError = unusableRefreshToken,
): void {
  if (grant.state !== 'active') throw new Refusal('revoked', refuse(), grant.id);
  if (!orgAllowed(deps.config, grant.approver.orgId)) {
    throw new Refusal('org_not_allowed', refuse(ORG_NOT_ALLOWED), grant.id);
  }
}

/** Half the access token's lifetime used up (Webex's are ~14 days: renewed after ~7). */
export function needsRenewal(webex: SealedWebexTokens, now: number): boolean {
  const lifetime = webex.accessTokenExpiresAt - webex.accessTokenIssuedAt;
  return now >= webex.accessTokenIssuedAt + lifetime / 2;
}

export interface Renewed {
  webex: SealedWebexTokens;
  webexRefreshExpiresAt: number;
}

/** A new Webex access token for a managed grant, with Webex's sealed refresh token. */
export async function renewAtWebex(
  deps: FlowDeps,
  grant: GrantRecord,
  webex: SealedWebexTokens,
): Promise<Renewed> {
  let fresh: WebexTokens;
  try {
    fresh = await deps.webex.refresh(webex.refreshToken);
  } catch (err) {
    return webexFailed(deps, grant, err);
  }
  const at = deps.now();
  return {
    webex: {
      accessToken: fresh.access_token,
      tokenType: fresh.token_type,
      accessTokenIssuedAt: at,
      accessTokenExpiresAt: at + fresh.expires_in * 1000,
      refreshToken: fresh.refresh_token,
    },
    webexRefreshExpiresAt: at + fresh.refresh_token_expires_in * 1000,
  };
}

/** Of two sets of Webex tokens (a concurrent renewal), the one issued last. */
export function newer(a: SealedWebexTokens, b: SealedWebexTokens | null): SealedWebexTokens {
  return b && b.accessTokenIssuedAt > a.accessTokenIssuedAt ? b : a;
}

/**
 * Webex failed during a renewal. Busy or down (429, 5xx, timeouts): the caller undoes what it
 * claimed and the script is told to retry. Webex refused the refresh token itself: the grant
 * is over.
 */
async function webexFailed(deps: FlowDeps, grant: GrantRecord, err: unknown): Promise<never> {
  if (err instanceof OAuthError && err.code === 'invalid_grant') {
    await revokeGrant(deps, grant.id, { kind: 'service' }, 'webex_refused');
    throw new Refusal(
      'webex_refused',
      unusableRefreshToken(
        'Webex no longer accepts the refresh token behind this grant (it expired at Webex, or access was revoked there), so the grant has ended. Run "webex-token login" (the device flow) again to get new tokens.',
      ),
      grant.id,
    );
  }
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
