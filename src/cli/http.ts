/**
 * The CLI's HTTP layer: one request with a time limit and the run's abort signal, form posts,
 * JSON and Retry-After reading, and network failures turned into CliErrors flagged transient.
 * Nothing here knows OAuth; oauth-error.ts reads the answers.
 */
import { CliError, EXIT, Interrupted } from './errors';

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

/** Per-request time limit for requests that are not long polls. */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface HttpAnswer {
  status: number;
  statusText: string;
  headers: Headers;
  text: string;
}

/** Server-supplied text, made safe for one terminal line. */
export function clean(text: string, max = 300): string {
  // eslint-disable-next-line no-control-regex
  const oneLine = text.replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

const NETWORK_ERRORS: Record<string, string> = {
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

function describeNetworkError(err: unknown): string {
  let e: unknown = err;
  // fetch wraps the real cause: TypeError('fetch failed', { cause: Error{code} })
  while (e instanceof Error && e.cause !== undefined && !(e as NodeJS.ErrnoException).code) {
    e = e.cause;
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && NETWORK_ERRORS[code] !== undefined) {
    return `${NETWORK_ERRORS[code]} (${code})`;
  }
  if (code !== undefined && /CERT|SSL|TLS/i.test(code)) return `TLS certificate problem (${code})`;
  if (code !== undefined) return code;
  return e instanceof Error ? clean(e.message) : 'network error';
}

/**
 * One HTTP request with a time limit. Network failures and timeouts become exit-5 errors
 * flagged transient (another attempt may succeed); Ctrl-C becomes Interrupted.
 */
export async function request(
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
      throw new CliError(EXIT.server, `no answer from ${where} within ${timeoutMs / 1000} s`, {
        transient: true,
      });
    }
    throw new CliError(EXIT.server, `cannot reach ${where}: ${describeNetworkError(err)}`, {
      transient: true,
    });
  }
}

/** A form-encoded POST (every OAuth endpoint the CLI calls); undefined values are left out. */
export function postForm(
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

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Retry-After as whole seconds (delta or HTTP date), or undefined when absent or unreadable. */
export function retryAfterSeconds(answer: HttpAnswer): number | undefined {
  const raw = answer.headers.get('retry-after');
  if (raw === null) return undefined;
  const n = Number(raw);
  if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** An http(s) URL from untrusted JSON, or undefined. */
export function httpUrl(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}
