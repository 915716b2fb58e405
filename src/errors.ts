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
 * An error whose JSON form is exactly RFC 6749 §5.2: `{error, error_description}`.
 * Token and device-authorization endpoints throw these.
 */
export class OAuthError extends HttpError {
  override name = 'OAuthError';
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
