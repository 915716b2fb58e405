/**
 * Reading Webex's answers: token bodies, its two error shapes, Retry-After. Webex's free text
 * never reaches a caller; only RFC codes and our own messages do.
 */
import { type OAuthError, invalidGrant, serverError } from '../errors';
import type { WebexTokens } from './client';

/** Retry-After as whole seconds (delta or HTTP date), clamped to 1..3600; undefined if absent. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  let seconds: number;
  if (/^\d{1,9}$/.test(trimmed)) seconds = Number(trimmed);
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    seconds = Math.ceil((at - Date.now()) / 1000);
  }
  return Math.min(3600, Math.max(1, seconds));
}

/**
 * The parts of a Webex error body worth logging, from either shape it uses: RFC 6749
 * `{error, error_description}` or Webex's `{message, errors: [{description}], trackingId}`.
 */
export function webexErrorDetail(body: unknown): {
  error?: string;
  message?: string;
  trackingId?: string;
} {
  if (typeof body !== 'object' || body === null) return {};
  const b = body as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, 300) : undefined);
  const descriptions = Array.isArray(b.errors)
    ? b.errors
        .map((e) =>
          typeof e === 'object' && e !== null
            ? text((e as Record<string, unknown>).description)
            : undefined,
        )
        .filter((d): d is string => d !== undefined)
    : [];
  const message = text(b.error_description) ?? text(b.message) ?? descriptions[0];
  return {
    ...(text(b.error) ? { error: text(b.error) } : {}),
    ...(message ? { message } : {}),
    ...(text(b.trackingId) ? { trackingId: text(b.trackingId) } : {}),
  };
}

/** The RFC 6749 code a Webex error body carries, in either shape, or '' when it names none. */
function webexErrorCode(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const b = body as Record<string, unknown>;
  if (typeof b.error === 'string') return b.error;
  const texts = [
    b.message,
    ...(Array.isArray(b.errors) ? b.errors : []).map((e) =>
      typeof e === 'object' && e !== null ? (e as Record<string, unknown>).description : undefined,
    ),
  ];
  for (const t of texts) {
    const m =
      typeof t === 'string'
        ? /\b(invalid_client|unauthorized_client|invalid_grant)\b/.exec(t)
        : null;
    if (m) return m[1] as string;
  }
  return '';
}

export function parseTokens(body: unknown): WebexTokens | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  const str = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length < 8192;
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (
    !str(b.access_token) ||
    !num(b.expires_in) ||
    !str(b.refresh_token) ||
    !num(b.refresh_token_expires_in)
  ) {
    return null;
  }
  return {
    access_token: b.access_token as string,
    token_type: typeof b.token_type === 'string' ? b.token_type : 'Bearer',
    expires_in: b.expires_in as number,
    refresh_token: b.refresh_token as string,
    refresh_token_expires_in: b.refresh_token_expires_in as number,
    ...(typeof b.scope === 'string' ? { scope: b.scope } : {}),
  };
}

/**
 * Webex answers token errors as RFC 6749 JSON or as its own `{message, errors}` shape.
 * Either way the caller gets an RFC error code; Webex's free text is never passed on.
 */
export function mapTokenError(
  endpoint: 'token' | 'refresh',
  status: number,
  body: unknown,
): OAuthError {
  const code = webexErrorCode(body);
  if (status === 401 || code === 'invalid_client' || code === 'unauthorized_client') {
    return serverError(502, "Webex refused this service's client credentials.", {
      title: 'This service is misconfigured',
      hint: 'The operators need to check CLIENT_ID and CLIENT_SECRET against the integration on developer.webex.com.',
      expose: true,
    });
  }
  if (endpoint === 'refresh') {
    return invalidGrant(
      'Webex refused the refresh token: it has expired, was revoked, or belongs to another integration. Run the device flow (webex-token login) again to get new tokens.',
    );
  }
  return invalidGrant('Webex refused the sign-in code: it has expired or was already used.', {
    title: 'The sign-in could not be completed',
    hint: 'Start again from the home page; sign-in codes are valid for a few minutes only.',
  });
}
