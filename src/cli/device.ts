/**
 * The client side of the service's machine protocol: RFC 8414 discovery, RFC 8628 device
 * authorization and polling (with the service's `wait` extension), and RFC 6749 §6 refresh.
 * No printing here; callers get data, callbacks, or a CliError carrying the exit code.
 */
import { CliError, EXIT, Interrupted } from './errors';
import { type TokenResponse, validateTokenResponse } from './output';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const METADATA_PATH = '/.well-known/oauth-authorization-server';

/** Time source and sleeper; injectable so tests can run the poll loop without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, rejects with Interrupted when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new Interrupted());
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new Interrupted());
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

export interface Deps {
  fetch: typeof fetch;
  clock: Clock;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
  /** Sent as User-Agent on every request (user-agent.ts). */
  userAgent?: string;
}

export interface ServerMetadata {
  issuer: string;
  deviceAuthorizationEndpoint: string;
  tokenEndpoint: string;
  /** The service's version from the `webex_scoped_tokens` extension, when given. */
  version: string | undefined;
  /** Longest `wait` a poll may ask for; 0 when the server does not offer waiting. */
  pollWaitMaxSeconds: number;
  /** RFC 7009 endpoint, used to cancel a handoff the CLI gives up on. */
  revocationEndpoint: string | undefined;
  /** `dynamic` (the request must name scopes) or `static` (fixed scopes), when the server says. */
  scopesMode: 'dynamic' | 'static' | undefined;
  scopesSupported: string[];
}

export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | undefined;
  expiresIn: number;
  interval: number;
  /** Absolute expiry (ms since epoch), from when the answer arrived. */
  expiresAt: number;
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string | undefined;
}

/** Per-request time limit for requests that are not long polls. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Extra time over `wait` before a long poll is considered lost. */
const WAIT_GRACE_MS = 15_000;
/** Safety margin added to the interval between poll starts (clock and network jitter). */
const POLL_MARGIN_MS = 200;
/** Consecutive transient failures (network, 5xx, 429) tolerated while polling. */
export const MAX_TRANSIENT_FAILURES = 5;

/** Server-supplied text, made safe for one terminal line. */
export function clean(text: string, max = 300): string {
  // eslint-disable-next-line no-control-regex
  const oneLine = text.replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

function describeNetworkError(err: unknown): string {
  let e: unknown = err;
  // fetch wraps the real cause: TypeError('fetch failed', { cause: Error{code} })
  while (e instanceof Error && e.cause !== undefined && !(e as NodeJS.ErrnoException).code) {
    e = e.cause;
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    UND_ERR_SOCKET: 'connection closed unexpectedly',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  };
  if (code !== undefined && known[code] !== undefined) return `${known[code]} (${code})`;
  if (code !== undefined && /CERT|SSL|TLS/i.test(code)) return `TLS certificate problem (${code})`;
  if (code !== undefined) return code;
  return e instanceof Error ? clean(e.message) : 'network error';
}

interface HttpAnswer {
  status: number;
  statusText: string;
  headers: Headers;
  text: string;
}

/** One HTTP request with a time limit; network failures become exit-5 errors. */
async function request(
  url: string,
  init: RequestInit,
  deps: Deps,
  timeoutMs: number,
): Promise<HttpAnswer> {
  if (deps.signal?.aborted) throw new Interrupted();
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = deps.signal ? AbortSignal.any([deps.signal, timeout]) : timeout;
  const where = new URL(url).origin;
  try {
    const headers = new Headers(init.headers);
    if (deps.userAgent) headers.set('user-agent', deps.userAgent);
    const res = await deps.fetch(url, { ...init, headers, signal });
    const text = await res.text();
    return { status: res.status, statusText: res.statusText, headers: res.headers, text };
  } catch (err) {
    if (deps.signal?.aborted) throw new Interrupted();
    if (timeout.aborted) {
      throw new CliError(EXIT.server, `no answer from ${where} within ${timeoutMs / 1000} s`);
    }
    throw new CliError(EXIT.server, `cannot reach ${where}: ${describeNetworkError(err)}`);
  }
}

function postForm(
  url: string,
  params: Record<string, string | undefined>,
  deps: Deps,
  timeoutMs = REQUEST_TIMEOUT_MS,
): Promise<HttpAnswer> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) body.set(k, v);
  return request(
    url,
    {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: body.toString(),
    },
    deps,
    timeoutMs,
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface OAuthErrorBody {
  error: string | undefined;
  description: string | undefined;
}

function oauthError(answer: HttpAnswer): OAuthErrorBody {
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

function retryAfterSeconds(answer: HttpAnswer): number | undefined {
  const raw = answer.headers.get('retry-after');
  if (raw === null) return undefined;
  const n = Number(raw);
  if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function httpUrl(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** A generic "the server said no" message: status, RFC error code, and its description. */
function serverSaid(answer: HttpAnswer, what: string): string {
  const { error, description } = oauthError(answer);
  const status = `${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
  const detail = [error, description].filter((s) => s !== undefined).join(': ');
  return `${what} failed: the server answered ${status}${detail ? ` (${detail})` : ''}`;
}

/** Fetches and checks the server's RFC 8414 metadata. */
export async function discover(server: string, deps: Deps): Promise<ServerMetadata> {
  const url = `${server}${METADATA_PATH}`;
  const answer = await request(url, { headers: { accept: 'application/json' } }, deps, 15_000);
  const notOurs = (why: string): CliError =>
    new CliError(EXIT.server, `${server} is not a webex-scoped-tokens server (${why})`);
  if (answer.status === 404) {
    throw notOurs(`${METADATA_PATH} answered 404 Not Found`);
  }
  if (answer.status < 200 || answer.status >= 300) {
    throw new CliError(EXIT.server, serverSaid(answer, `fetching ${url}`));
  }
  const body = parseJson(answer.text);
  if (!isObject(body)) {
    const type = answer.headers.get('content-type')?.split(';')[0] ?? 'no content type';
    throw notOurs(`its metadata is not a JSON object but ${clean(type, 60)}`);
  }
  const ext = body.webex_scoped_tokens;
  if (!isObject(ext)) throw notOurs('its metadata has no webex_scoped_tokens');
  const deviceAuthorizationEndpoint = httpUrl(body.device_authorization_endpoint);
  if (deviceAuthorizationEndpoint === undefined) {
    throw notOurs('its metadata has no device_authorization_endpoint');
  }
  const tokenEndpoint = httpUrl(body.token_endpoint);
  if (tokenEndpoint === undefined) throw notOurs('its metadata has no token_endpoint');
  const waitMax = ext.poll_wait_max_seconds;
  const mode = ext.scopes_mode;
  return {
    revocationEndpoint: httpUrl(body.revocation_endpoint),
    scopesMode: mode === 'dynamic' || mode === 'static' ? mode : undefined,
    scopesSupported: Array.isArray(body.scopes_supported)
      ? body.scopes_supported
          .filter((x): x is string => typeof x === 'string')
          .map((x) => clean(x, 80))
      : [],
    issuer: typeof body.issuer === 'string' ? body.issuer : server,
    deviceAuthorizationEndpoint,
    tokenEndpoint,
    version: typeof ext.version === 'string' ? clean(ext.version, 40) : undefined,
    pollWaitMaxSeconds:
      typeof waitMax === 'number' && Number.isFinite(waitMax) && waitMax >= 1
        ? Math.floor(waitMax)
        : 0,
  };
}

/** RFC 8628 §3.1–3.2: asks the server for a device code and a user code. */
export async function startDeviceAuthorization(
  meta: ServerMetadata,
  client: ClientCredentials,
  scopes: readonly string[],
  deps: Deps,
): Promise<DeviceAuthorization> {
  const answer = await postForm(
    meta.deviceAuthorizationEndpoint,
    {
      client_id: client.clientId,
      scope: scopes.length > 0 ? scopes.join(' ') : undefined,
      client_secret: client.clientSecret,
    },
    deps,
  );
  const receivedAt = deps.clock.now();
  if (answer.status === 200) {
    const b = parseJson(answer.text);
    const ok =
      isObject(b) &&
      typeof b.device_code === 'string' &&
      b.device_code !== '' &&
      typeof b.user_code === 'string' &&
      b.user_code !== '' &&
      httpUrl(b.verification_uri) !== undefined &&
      typeof b.expires_in === 'number' &&
      b.expires_in > 0;
    if (!ok) {
      throw new CliError(EXIT.server, 'the server returned an unusable device authorization');
    }
    const interval = typeof b.interval === 'number' && b.interval > 0 ? b.interval : 5;
    const expiresIn = b.expires_in as number;
    return {
      deviceCode: b.device_code as string,
      userCode: clean(b.user_code as string, 40),
      verificationUri: httpUrl(b.verification_uri) as string,
      verificationUriComplete: httpUrl(b.verification_uri_complete),
      expiresIn,
      interval,
      expiresAt: receivedAt + expiresIn * 1000,
    };
  }
  const { error, description } = oauthError(answer);
  if (error === 'invalid_scope') {
    throw new CliError(EXIT.usage, `scope refused: ${description ?? 'invalid_scope'}`);
  }
  if (error === 'invalid_client' || error === 'unauthorized_client') {
    throw new CliError(
      EXIT.usage,
      `client "${clean(client.clientId, 60)}" refused: ${description ?? error}`,
    );
  }
  if (error === 'access_denied') {
    throw new CliError(EXIT.denied, `denied: ${description ?? 'access_denied'}`);
  }
  if (answer.status === 429) {
    const after = retryAfterSeconds(answer);
    throw new CliError(
      EXIT.server,
      `the server is rate-limiting requests from this address${
        after !== undefined ? `; try again in ${after} s` : ''
      }`,
    );
  }
  if (error === 'invalid_request' && description !== undefined) {
    throw new CliError(EXIT.usage, `request refused: ${description}`);
  }
  throw new CliError(EXIT.server, serverSaid(answer, 'device authorization'));
}

export interface PollEvents {
  /** The server said slow_down; `intervalSeconds` is the new interval. */
  onSlowDown?(intervalSeconds: number): void;
  /** A transient failure that will be retried. */
  onRetry?(message: string, attempt: number): void;
}

export interface PollOptions extends ClientCredentials {
  /** Stop waiting at this time (ms since epoch) even if the code is still valid (--timeout). */
  deadline: number | undefined;
  /** How the deadline was set, for the message ("--timeout 90"). */
  deadlineLabel?: string;
}

/**
 * RFC 8628 §3.4–3.5: polls the token endpoint until the handoff resolves. With the server's
 * `wait` extension each poll is held open up to `wait` seconds; either way the next poll
 * starts no sooner than `interval` after the previous one started, and `slow_down` adds 5 s.
 */
export async function pollForTokens(
  meta: ServerMetadata,
  auth: DeviceAuthorization,
  opts: PollOptions,
  deps: Deps,
  events: PollEvents = {},
): Promise<{ tokens: TokenResponse; receivedAt: number }> {
  let intervalMs = Math.max(1, auth.interval) * 1000;
  const stopAt = Math.min(auth.expiresAt, opts.deadline ?? Infinity);
  const timedOut = (): CliError =>
    opts.deadline !== undefined && opts.deadline < auth.expiresAt
      ? new CliError(
          EXIT.expired,
          `timed out waiting for approval (${opts.deadlineLabel ?? 'timeout'}); the code ${auth.userCode} was not approved in time`,
        )
      : new CliError(
          EXIT.expired,
          `the code ${auth.userCode} expired before it was approved; run login again`,
        );
  let failures = 0;

  for (;;) {
    const started = deps.clock.now();
    const left = stopAt - started;
    if (left <= 0) throw timedOut();
    const wait =
      meta.pollWaitMaxSeconds > 0 ? Math.min(meta.pollWaitMaxSeconds, Math.floor(left / 1000)) : 0;
    let nextAt = started + intervalMs + POLL_MARGIN_MS;
    let retryMessage: string | undefined;

    try {
      const answer = await postForm(
        meta.tokenEndpoint,
        {
          grant_type: DEVICE_CODE_GRANT,
          device_code: auth.deviceCode,
          client_id: opts.clientId,
          client_secret: opts.clientSecret,
          wait: wait >= 1 ? String(wait) : undefined,
        },
        deps,
        wait * 1000 + WAIT_GRACE_MS,
      );
      if (answer.status === 200) {
        const receivedAt = deps.clock.now();
        const body = parseJson(answer.text);
        if (body === undefined) {
          throw new CliError(EXIT.server, 'the server returned a token response that is not JSON');
        }
        return { tokens: validateTokenResponse(body), receivedAt };
      }
      const { error, description } = oauthError(answer);
      if (error === 'authorization_pending') {
        failures = 0;
      } else if (error === 'slow_down') {
        failures = 0;
        intervalMs += 5000;
        nextAt = started + intervalMs + POLL_MARGIN_MS;
        events.onSlowDown?.(intervalMs / 1000);
      } else if (error === 'access_denied') {
        throw new CliError(
          EXIT.denied,
          `denied: ${description ?? 'the request was declined by the approver'}`,
        );
      } else if (error === 'expired_token') {
        throw new CliError(
          EXIT.expired,
          `the code ${auth.userCode} expired before it was approved${
            description ? ` (${description})` : ''
          }; run login again`,
        );
      } else if (error === 'invalid_client' || error === 'unauthorized_client') {
        throw new CliError(
          EXIT.usage,
          `client "${clean(opts.clientId, 60)}" refused: ${description ?? error}`,
        );
      } else if (answer.status === 429 || answer.status >= 500) {
        const after = retryAfterSeconds(answer);
        if (after !== undefined) nextAt = Math.max(nextAt, started + after * 1000);
        retryMessage = serverSaid(answer, 'polling');
      } else {
        throw new CliError(EXIT.server, serverSaid(answer, 'polling'));
      }
    } catch (err) {
      // Network trouble while waiting is retried a few times; everything else ends the run.
      if (!(err instanceof CliError) || err.exitCode !== EXIT.server || !isTransient(err)) {
        throw err;
      }
      retryMessage = err.message;
    }

    if (retryMessage !== undefined) {
      failures += 1;
      if (failures > MAX_TRANSIENT_FAILURES) {
        throw new CliError(EXIT.server, `${retryMessage} (gave up after ${failures} attempts)`);
      }
      nextAt = Math.max(nextAt, deps.clock.now() + Math.min(30_000, 1000 * 2 ** failures));
      events.onRetry?.(retryMessage, failures);
    }

    const now = deps.clock.now();
    if (nextAt > now) await deps.clock.sleep(Math.min(nextAt, stopAt) - now, deps.signal);
  }
}

/** Network-level failures (not "the server said no") are worth another poll. */
function isTransient(err: CliError): boolean {
  return /^(cannot reach|no answer from)/.test(err.message);
}

/**
 * RFC 7009: cancel a handoff this run gave up on, so nobody can approve it any more. Runs
 * after Ctrl-C, so it ignores the run's abort signal and has its own short time limit.
 * Returns what went wrong, or undefined when the server took it.
 */
export async function cancelDeviceAuthorization(
  meta: ServerMetadata,
  auth: DeviceAuthorization,
  client: ClientCredentials,
  deps: Deps,
): Promise<string | undefined> {
  if (meta.revocationEndpoint === undefined) return 'the server offers no revocation endpoint';
  try {
    const answer = await postForm(
      meta.revocationEndpoint,
      {
        token: auth.deviceCode,
        token_type_hint: 'device_code',
        client_id: client.clientId,
        client_secret: client.clientSecret,
      },
      { ...deps, signal: undefined },
      5000,
    );
    return answer.status === 200 ? undefined : serverSaid(answer, 'cancelling');
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

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
  const { error, description } = oauthError(answer);
  if (error === 'invalid_client' || error === 'unauthorized_client') {
    throw new CliError(
      EXIT.usage,
      `client "${clean(client.clientId, 60)}" refused: ${description ?? error}`,
    );
  }
  throw new CliError(EXIT.server, serverSaid(answer, 'revoking'));
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
  const receivedAt = deps.clock.now();
  if (answer.status === 200) {
    const body = parseJson(answer.text);
    if (body === undefined) {
      throw new CliError(EXIT.server, 'the server returned a token response that is not JSON');
    }
    return { tokens: validateTokenResponse(body), receivedAt };
  }
  const { error, description } = oauthError(answer);
  if (error === 'invalid_grant') {
    throw new CliError(
      EXIT.expired,
      `refresh refused: ${description ?? 'the refresh token is expired or revoked; run "webex-token login" again'}`,
    );
  }
  if (error === 'invalid_client' || error === 'unauthorized_client') {
    throw new CliError(
      EXIT.usage,
      `client "${clean(client.clientId, 60)}" refused: ${description ?? error}`,
    );
  }
  if (answer.status === 429) {
    const after = retryAfterSeconds(answer);
    throw new CliError(
      EXIT.server,
      `the server is rate-limiting requests${after !== undefined ? `; try again in ${after} s` : ''}`,
    );
  }
  throw new CliError(EXIT.server, serverSaid(answer, 'refresh'));
}
