/**
 * The RFC 8628 handoff from the script's side: device authorization, polling (with the
 * service's `wait` extension) and cancelling a handoff this run gave up on. No printing here;
 * callers get data, callbacks, or a CliError carrying the exit code.
 */
import type { ServerMetadata } from './discovery';
import { CliError, EXIT } from './errors';
import { type Deps, clean, httpUrl, isObject, parseJson, postForm } from './http';
import { errorFromAnswer, readOAuthError, serverSaid } from './oauth-error';
import { type TokenResponse, validateTokenResponse } from './output';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

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

/** Extra time over `wait` before a long poll is considered lost. */
const WAIT_GRACE_MS = 15_000;
/** Safety margin added to the interval between poll starts (clock and network jitter). */
const POLL_MARGIN_MS = 200;
/** Consecutive transient failures (network, 5xx, 429) tolerated while polling. */
export const MAX_TRANSIENT_FAILURES = 5;

/** A 200 token answer, checked; the time it arrived anchors the expiry times. */
export function tokensFrom(
  text: string,
  deps: Deps,
): { tokens: TokenResponse; receivedAt: number } {
  const receivedAt = deps.clock.now();
  const body = parseJson(text);
  if (body === undefined) {
    throw new CliError(EXIT.server, 'the server returned a token response that is not JSON');
  }
  return { tokens: validateTokenResponse(body), receivedAt };
}

/**
 * RFC 8628 §3.1–3.2: asks the server for a device code and a user code. `extra` carries
 * further parameters (workload identity's subject_token and its type).
 */
export async function startDeviceAuthorization(
  meta: ServerMetadata,
  client: ClientCredentials,
  scopes: readonly string[],
  deps: Deps,
  extra: Record<string, string> = {},
): Promise<DeviceAuthorization> {
  const answer = await postForm(
    meta.deviceAuthorizationEndpoint,
    {
      client_id: client.clientId,
      scope: scopes.length > 0 ? scopes.join(' ') : undefined,
      client_secret: client.clientSecret,
      ...extra,
    },
    deps,
  );
  const receivedAt = deps.clock.now();
  if (answer.status !== 200) {
    throw errorFromAnswer(answer, {
      operation: 'device authorization',
      clientId: client.clientId,
    });
  }
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
    let retry: CliError | undefined;

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
      if (answer.status === 200) return tokensFrom(answer.text, deps);
      const { error } = readOAuthError(answer);
      if (error === 'authorization_pending') {
        failures = 0;
      } else if (error === 'slow_down') {
        failures = 0;
        intervalMs += 5000;
        nextAt = started + intervalMs + POLL_MARGIN_MS;
        events.onSlowDown?.(intervalMs / 1000);
      } else {
        throw errorFromAnswer(answer, {
          operation: 'polling',
          clientId: opts.clientId,
          userCode: auth.userCode,
        });
      }
    } catch (err) {
      // Trouble while waiting (network, 429, 5xx) is retried a few times; the rest ends the run.
      if (!(err instanceof CliError) || !err.transient) throw err;
      retry = err;
    }

    if (retry !== undefined) {
      failures += 1;
      if (failures > MAX_TRANSIENT_FAILURES) {
        throw new CliError(EXIT.server, `${retry.message} (gave up after ${failures} attempts)`);
      }
      if (retry.retryAfterSeconds !== undefined) {
        nextAt = Math.max(nextAt, started + retry.retryAfterSeconds * 1000);
      }
      nextAt = Math.max(nextAt, deps.clock.now() + Math.min(30_000, 1000 * 2 ** failures));
      events.onRetry?.(retry.message, failures);
    }

    const now = deps.clock.now();
    if (nextAt > now) await deps.clock.sleep(Math.min(nextAt, stopAt) - now, deps.signal);
  }
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
