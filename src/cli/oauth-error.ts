/**
 * The one mapping from an OAuth error answer (RFC 6749 §5.2, RFC 8628 §3.5, RFC 8693 §2.2.2)
 * to the CliError the user sees: its exit code, its message, and whether it is transient
 * (429 and 5xx: the same request may succeed later). Every call to the service goes through
 * it, so an error code means the same thing whichever command met it.
 */
import { CliError, EXIT } from './errors';
import { type HttpAnswer, clean, isObject, parseJson, retryAfterSeconds } from './http';

/** What the CLI was doing; names the step in messages and picks the step-specific advice. */
export type Operation =
  'device authorization' | 'polling' | 'refresh' | 'revoking' | 'cancelling' | 'token exchange';

export interface ErrorContext {
  operation: Operation;
  clientId: string;
  /** The handoff's user code, once there is one (polling). */
  userCode?: string;
}

export interface OAuthErrorBody {
  error: string | undefined;
  description: string | undefined;
}

export function readOAuthError(answer: HttpAnswer): OAuthErrorBody {
  const body = parseJson(answer.text);
  if (!isObject(body)) return { error: undefined, description: undefined };
  return {
    error: typeof body.error === 'string' ? clean(body.error, 80) : undefined,
    description:
      typeof body.error_description === 'string' && body.error_description.trim() !== ''
        ? clean(body.error_description)
        : undefined,
  };
}

/** A generic "the server said no" message: status, RFC error code, and its description. */
export function serverSaid(answer: HttpAnswer, what: string): string {
  const { error, description } = readOAuthError(answer);
  const status = `${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
  const detail = [error, description].filter((s) => s !== undefined).join(': ');
  return `${what} failed: the server answered ${status}${detail ? ` (${detail})` : ''}`;
}

/** What to do when an exchange is refused: the service says invalid_grant for every refusal. */
export const NO_GRANT_ADVICE =
  'no grant is bound to this job yet, or its ID token was refused: run "webex-token login --oidc" in this job once (an admin approves it), or ask an admin whether the grant was revoked';

/** The CliError for a non-2xx answer from the service. */
export function errorFromAnswer(answer: HttpAnswer, context: ErrorContext): CliError {
  const { error, description } = readOAuthError(answer);
  const { operation } = context;
  const said = (): string => serverSaid(answer, operation);
  switch (error) {
    case 'invalid_client':
    case 'unauthorized_client':
      return new CliError(
        EXIT.usage,
        `client "${clean(context.clientId, 60)}" refused: ${description ?? error}`,
      );
    case 'invalid_scope':
      return new CliError(EXIT.usage, `scope refused: ${description ?? 'invalid_scope'}`);
    case 'access_denied':
      return new CliError(
        EXIT.denied,
        `denied: ${description ?? (operation === 'polling' ? 'the request was declined by the approver' : 'access_denied')}`,
      );
    case 'expired_token':
      return new CliError(
        EXIT.expired,
        context.userCode !== undefined
          ? `the code ${context.userCode} expired before it was approved${description ? ` (${description})` : ''}; run login again`
          : `expired: ${description ?? 'expired_token'}`,
      );
    case 'invalid_grant':
      if (operation === 'refresh') {
        return new CliError(
          EXIT.expired,
          `refresh refused: ${description ?? 'the refresh token is expired or revoked; run "webex-token login" again'}`,
        );
      }
      if (operation === 'token exchange') {
        return new CliError(
          EXIT.expired,
          // The service's own text, when it already says to run login, is advice enough.
          description?.includes('login --oidc')
            ? `token exchange refused: ${description}`
            : `token exchange refused${description ? ` (${description})` : ''}: ${NO_GRANT_ADVICE}`,
        );
      }
      if (operation === 'device authorization') {
        return new CliError(
          EXIT.usage,
          `the service refused this job's ID token: ${description ?? 'invalid_grant'}`,
        );
      }
      break;
    case 'unsupported_grant_type':
      if (operation === 'token exchange') {
        return new CliError(
          EXIT.usage,
          `the service does not exchange ID tokens (${description ?? error}): its operators must set WORKLOAD_ISSUERS`,
        );
      }
      break;
    case 'invalid_request':
      if (
        description !== undefined &&
        (operation === 'device authorization' || operation === 'token exchange')
      ) {
        return new CliError(EXIT.usage, `request refused: ${description}`);
      }
      break;
  }
  if (answer.status === 429) {
    const after = retryAfterSeconds(answer);
    return new CliError(
      EXIT.server,
      `the server is rate-limiting requests from this address${after !== undefined ? `; try again in ${after} s` : ''}`,
      { transient: true, retryAfterSeconds: after },
    );
  }
  if (answer.status >= 500) {
    return new CliError(EXIT.server, said(), {
      transient: true,
      retryAfterSeconds: retryAfterSeconds(answer),
    });
  }
  return new CliError(EXIT.server, said());
}
