/**
 * Calls on a grant the service keeps: RFC 6749 §6 refresh (the service adds the Webex client
 * secret), RFC 7009 revocation of a refresh token, and RFC 8693 exchange of a CI job's ID token
 * (workload identity).
 */
import { type ClientCredentials, tokensFrom } from './device';
import type { ServerMetadata } from './discovery';
import { CliError, EXIT } from './errors';
import { type Deps, clean, postForm } from './http';
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

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** The parameters that carry a CI job's ID token (device authorization and exchange alike). */
export function subjectTokenParams(idToken: string): Record<string, string> {
  return { subject_token: idToken, subject_token_type: JWT_TOKEN_TYPE };
}

/**
 * RFC 8693 token exchange at the token endpoint: the job's ID token for the access token of
 * the grant bound to that job. `scopes` narrows the token; empty asks for the grant's.
 */
export async function exchangeIdToken(
  meta: ServerMetadata,
  idToken: string,
  scopes: readonly string[],
  client: ClientCredentials,
  deps: Deps,
): Promise<{ tokens: TokenResponse; receivedAt: number }> {
  const answer = await postForm(
    meta.tokenEndpoint,
    {
      grant_type: TOKEN_EXCHANGE_GRANT,
      ...subjectTokenParams(idToken),
      scope: scopes.length > 0 ? scopes.join(' ') : undefined,
      client_id: client.clientId,
      client_secret: client.clientSecret,
    },
    deps,
  );
  if (answer.status !== 200) {
    throw errorFromAnswer(answer, { operation: 'token exchange', clientId: client.clientId });
  }
  const result = tokensFrom(answer.text, deps);
  const issued = result.tokens.issued_token_type;
  if (issued !== undefined && issued !== ACCESS_TOKEN_TYPE) {
    throw new CliError(
      EXIT.server,
      `the server exchanged the ID token for a ${typeof issued === 'string' ? clean(issued, 80) : 'non-string'} token type, not an access token`,
    );
  }
  return result;
}
