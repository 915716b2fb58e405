/**
 * Calls on a grant the service keeps: RFC 6749 §6 refresh (the service adds the Webex client
 * secret) and RFC 7009 revocation of a refresh token.
 */
import { type ClientCredentials, tokensFrom } from './device';
import type { ServerMetadata } from './discovery';
import { CliError, EXIT } from './errors';
import { type Deps, postForm } from './http';
import { errorFromAnswer } from './oauth-error';
import type { TokenResponse } from './output';

/**
 * RFC 7009: revoke a refresh token. The server answers 200 whether or not it knew the token
 * (RFC 7009 §2.2), so success means "this token no longer works", not "it existed".
 */
export async function revokeRefreshToken(
  meta: ServerMetadata,
  refreshToken: string,
  client: ClientCredentials,
  deps: Deps,
): Promise<void> {
  if (meta.revocationEndpoint === undefined) {
    throw new CliError(
      EXIT.server,
      'the server offers no revocation endpoint (an older webex-scoped-tokens?)',
    );
  }
  const answer = await postForm(
    meta.revocationEndpoint,
    {
      token: refreshToken,
      token_type_hint: 'refresh_token',
      client_id: client.clientId,
      client_secret: client.clientSecret,
    },
    deps,
  );
  if (answer.status === 200) return;
  throw errorFromAnswer(answer, { operation: 'revoking', clientId: client.clientId });
}

/** RFC 6749 §6 refresh through the service (which adds the Webex client secret). */
export async function refreshTokens(
  meta: ServerMetadata,
  refreshToken: string,
  client: ClientCredentials,
  deps: Deps,
): Promise<{ tokens: TokenResponse; receivedAt: number }> {
  const answer = await postForm(
    meta.tokenEndpoint,
    {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: client.clientId,
      client_secret: client.clientSecret,
    },
    deps,
  );
  if (answer.status === 200) return tokensFrom(answer.text, deps);
  throw errorFromAnswer(answer, { operation: 'refresh', clientId: client.clientId });
}
