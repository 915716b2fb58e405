/**
 * One error family for the whole service. Each error carries the HTTP status, a stable
 * machine code (an RFC 6749/8628 `error` value where one applies), whether its message may
 * be shown, and what the reader should do next. The error handler renders it as HTML or JSON.
 */

export interface HttpErrorOptions {
  /** Heading on the error page. */
  title?: string;
  /** What to do next, one or two sentences. */
  hint?: string;
  /** Extra lines to list (e.g. refused scopes with reasons). Never attacker text verbatim. */
  details?: string[];
  /** Whether the message may be shown to the client; false hides it behind a generic text. */
  expose?: boolean;
  headers?: Record<string, string>;
  cause?: unknown;
  /**
   * An expected answer in a polling loop (authorization_pending, slow_down): nothing went wrong,
   * so its request line is logged at debug instead of info.
   */
  routine?: boolean;
}

export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly hint: string | undefined;
  readonly details: string[];
  readonly expose: boolean;
  readonly headers: Record<string, string>;
  readonly routine: boolean;

  constructor(status: number, code: string, message: string, opts: HttpErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = status;
    this.code = code;
    this.title = opts.title ?? defaultTitle(status);
    this.hint = opts.hint;
    this.details = opts.details ?? [];
    this.expose = opts.expose ?? status < 500;
    this.headers = opts.headers ?? {};
    this.routine = opts.routine ?? false;
  }
}

/**
 * An error defined by an OAuth RFC (6749 §5.2, 7009, 8628 §3.5, 8693): under `/oauth2/` the
 * error handler answers it as exactly `{error, error_description}`, with no page fields, since
 * scripts parse it. Build one through the factories below, which fix each code's status.
 */
export class OAuthError extends HttpError {
  override name = 'OAuthError';
}

type OAuthErrorOptions = Omit<HttpErrorOptions, 'expose'>;

const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="webex-scoped-tokens"' };

/** RFC 6749 §5.2: a parameter is missing, repeated, or malformed. */
export function invalidRequest(message: string, opts?: OAuthErrorOptions): OAuthError {
  return new OAuthError(400, 'invalid_request', message, opts);
}

/**
 * RFC 6749 §5.2: the client is unknown or failed to authenticate. `basic` (the request carried
 * credentials, or the client must) answers 401 with a Basic challenge, as §5.2 requires.
 */
export function invalidClient(
  message: string,
  { basic = false, ...opts }: OAuthErrorOptions & { basic?: boolean } = {},
): OAuthError {
  return new OAuthError(basic ? 401 : 400, 'invalid_client', message, {
    ...opts,
    headers: basic ? { ...BASIC_CHALLENGE, ...opts.headers } : opts.headers,
  });
}

/** RFC 6749 §5.2: the code, refresh token or subject token is not (or no longer) good. */
export function invalidGrant(message: string, opts?: OAuthErrorOptions): OAuthError {
  return new OAuthError(400, 'invalid_grant', message, opts);
}

/** RFC 6749 §5.2: the client may not use this grant type. */
export function unauthorizedClient(message: string, opts?: OAuthErrorOptions): OAuthError {
  return new OAuthError(400, 'unauthorized_client', message, opts);
}

/** RFC 6749 §5.2: the server does not know this grant type. */
export function unsupportedGrantType(message: string, opts?: OAuthErrorOptions): OAuthError {
  return new OAuthError(400, 'unsupported_grant_type', message, opts);
}

/** RFC 6749 §5.2: a scope is unknown, not allowed here, or more than the grant holds. */
export function invalidScope(message: string, opts?: OAuthErrorOptions): OAuthError {
  return new OAuthError(400, 'invalid_scope', message, opts);
}

/** RFC 8628 §3.5: the admin (or Webex, on their behalf) refused. */
export function accessDenied(message: string, opts?: OAuthErrorOptions): OAuthError {
  return new OAuthError(400, 'access_denied', message, opts);
}

/** RFC 8628 §3.5: the device code expired before anyone approved it. */
export function expiredToken(message: string, opts?: OAuthErrorOptions): OAuthError {
  return new OAuthError(400, 'expired_token', message, opts);
}

/** RFC 8628 §3.5: nothing happened yet; an expected answer, logged at debug. */
export function authorizationPending(message: string): OAuthError {
  return new OAuthError(400, 'authorization_pending', message, { routine: true });
}

/** RFC 8628 §3.5: the script polls faster than its interval; `seconds` is the grown interval. */
export function slowDown(seconds: number): OAuthError {
  return new OAuthError(
    400,
    'slow_down',
    `Polling too fast: wait at least ${seconds} seconds between polls.`,
    { routine: true },
  );
}

/** RFC 7009 §2.2.1: revocation of this token type is not supported. */
export function unsupportedTokenType(message: string, opts?: OAuthErrorOptions): OAuthError {
  return new OAuthError(400, 'unsupported_token_type', message, opts);
}

/** RFC 6749 has no 5xx code: a failure the script cannot fix (shown only with `expose`). */
export function serverError(
  status: 500 | 502,
  message: string,
  opts?: HttpErrorOptions,
): OAuthError {
  return new OAuthError(status, 'server_error', message, opts);
}

export type StateProblem =
  'missing' | 'used' | 'no_cookie' | 'mismatch' | 'replayed' | 'expired' | 'rejected';

const STATE_TEXT: Record<StateProblem, { message: string; hint: string }> = {
  missing: {
    message: 'This page was opened without the sign-in details Webex normally sends back.',
    hint: 'Start again from the home page rather than opening this address directly.',
  },
  used: {
    message:
      'This page was already used. Each sign-in finishes once, and its tokens are shown once and never stored, so reloading the page cannot show them again.',
    hint: 'If you still need tokens, start a new sign-in from the home page.',
  },
  no_cookie: {
    message:
      'Your browser did not send back the cookie that ties this sign-in to it, so we cannot tell it was you who started it. Most often the sign-in was started at another address for this service than the one Webex sent you back to (such as 127.0.0.1 instead of localhost), or in another browser or a private window; blocked cookies do the same.',
    hint: 'Open this service at its own address in this browser, allow cookies for it (they are only used during sign-in), then start again.',
  },
  mismatch: {
    message:
      'This sign-in was started in a different browser or profile than the one that finished it.',
    hint: 'Start again, and finish the sign-in in the same browser window.',
  },
  replayed: {
    message:
      'This sign-in link has already been used. Each sign-in completes once, so reloading or going back to it cannot work.',
    hint: 'If you need tokens again, start a new sign-in from the home page.',
  },
  expired: {
    message:
      'This sign-in took too long or was started in a tab that has been open for a while, so it expired.',
    hint: 'Start again from the home page and finish within a few minutes.',
  },
  rejected: {
    message:
      'The details this service kept for this sign-in could not be verified, so it cannot be finished and nothing was issued.',
    hint: 'Start again from the home page. If it keeps happening, tell the operators the time it happened.',
  },
};

/** A sign-in whose `state` is missing, spent, expired or another browser's: start again. */
export class StateError extends HttpError {
  override name = 'StateError';
  /** `publicUrl` names the service's own address in the no_cookie hint. */
  constructor(
    readonly problem: StateProblem,
    publicUrl?: string,
  ) {
    const hint =
      problem === 'no_cookie' && publicUrl
        ? `Open ${publicUrl} in this browser (that exact address), allow cookies for it (they are only used during sign-in), then start again.`
        : STATE_TEXT[problem].hint;
    super(400, `state_${problem}`, STATE_TEXT[problem].message, {
      title: 'This sign-in cannot be finished',
      hint,
    });
  }
}

function defaultTitle(status: number): string {
  if (status === 404) return 'Page not found';
  if (status === 429) return 'Too many attempts';
  if (status >= 500) return 'Something went wrong on our side';
  return 'That request could not be completed';
}

/** Signals that the store (Redis) could not be reached; answered as 503. */
export class StoreUnavailableError extends HttpError {
  override name = 'StoreUnavailableError';
  constructor(cause?: unknown) {
    super(
      503,
      'temporarily_unavailable',
      'The service cannot reach its session store right now, so it cannot start or finish a sign-in.',
      {
        title: 'Temporarily unavailable',
        hint: 'Nothing was lost on your side. Wait a few seconds and try again; if it persists, tell the operators that Redis is unreachable.',
        expose: true,
        headers: { 'Retry-After': '5' },
        cause,
      },
    );
  }
}

/** Signals a failed or malformed call to Webex. */
export class UpstreamError extends HttpError {
  override name = 'UpstreamError';
  constructor(
    readonly endpoint: string,
    readonly reason:
      'timeout' | 'unreachable' | 'http_error' | 'bad_response' | 'rate_limited' | 'unavailable',
    cause?: unknown,
    /** Seconds Webex asked us to wait (rate_limited, unavailable). */
    readonly retryAfterSeconds?: number,
  ) {
    const what: Record<typeof reason, string> = {
      timeout: 'Webex did not answer in time.',
      unreachable: 'Webex could not be reached.',
      http_error: 'Webex answered with an error.',
      bad_response: 'Webex sent an answer this service could not understand.',
      rate_limited:
        'Webex is receiving too many requests from this service right now (rate limit).',
      unavailable: 'Webex answered with a server error.',
    };
    // RFC 6749 has no rate-limit code: both become temporarily_unavailable, as 429 when Webex
    // rate-limited us (its Retry-After passed on) and 503 for its outages; never invalid_grant,
    // since the code or refresh token was not judged and is still good.
    const temporary = reason === 'rate_limited' || reason === 'unavailable';
    const status =
      reason === 'rate_limited'
        ? 429
        : reason === 'unavailable'
          ? 503
          : reason === 'timeout'
            ? 504
            : 502;
    super(status, 'temporarily_unavailable', what[reason], {
      title: temporary ? 'Webex is busy' : 'Webex did not complete the sign-in',
      hint: temporary
        ? `Nothing was lost: wait ${retryAfterSeconds ?? 30} seconds and try again; check https://status.webex.com if it keeps happening.`
        : 'This is usually temporary. Start again in a minute; check https://status.webex.com if it keeps happening.',
      expose: true,
      headers: temporary ? { 'Retry-After': String(retryAfterSeconds ?? 30) } : {},
      cause,
    });
  }
}

export function tooManyRequests(
  retryAfterSeconds: number,
  what: string,
  message = `Too many ${what} from your address or browser.`,
): HttpError {
  return new HttpError(429, 'rate_limited', message, {
    title: 'Too many attempts',
    hint: `Wait ${retryAfterSeconds} seconds before trying again.`,
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });
}

export function notFound(): HttpError {
  return new HttpError(404, 'not_found', 'There is no page at this address.', {
    hint: 'Start again from the home page.',
  });
}

export function methodNotAllowed(method: string, allow: string): HttpError {
  return new HttpError(
    405,
    'invalid_request',
    `This address does not accept ${method.slice(0, 16).replace(/[^A-Z]/gi, '?')} requests.`,
    {
      hint: allow ? `It accepts: ${allow}.` : 'Start again from the home page.',
      headers: allow ? { Allow: allow } : {},
    },
  );
}

/** Why a CI job's ID token was refused; stable, log-safe (never the token or its claims). */
export type WorkloadRefusal =
  | 'malformed'
  | 'alg_not_allowed'
  | 'unknown_issuer'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'too_old'
  | 'missing_claim'
  | 'replayed';

/**
 * A workload ID token (RFC 8693 `subject_token`) that does not verify: always `invalid_grant`,
 * never downgraded to an unverified request. `reason` is for logs and metrics.
 */
export class WorkloadTokenError extends OAuthError {
  override name = 'WorkloadTokenError';
  constructor(
    readonly reason: WorkloadRefusal,
    message: string,
    hint: string,
    /** The configured issuer's name, once the token named a trusted one. */
    readonly issuerName?: string,
  ) {
    super(400, 'invalid_grant', message, { title: 'The CI ID token was refused', hint });
  }
}

/** A trusted issuer's discovery document or keys could not be fetched: not the job's fault. */
export class WorkloadIssuerUnavailableError extends HttpError {
  override name = 'WorkloadIssuerUnavailableError';
  constructor(
    readonly issuerName: string,
    cause?: unknown,
  ) {
    super(
      503,
      'temporarily_unavailable',
      `The keys of the CI issuer "${issuerName}" could not be fetched, so its ID token cannot be checked right now.`,
      {
        title: 'Temporarily unavailable',
        hint: 'Retry the job in a minute; if it persists, tell the operators the service cannot reach the issuer.',
        headers: { 'Retry-After': '30' },
        cause,
      },
    );
  }
}
