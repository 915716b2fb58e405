/**
 * A small Webex OAuth client: builds the authorize URL, exchanges codes, refreshes tokens and
 * asks people/me who signed in. Every call has a timeout; every failure becomes one of our
 * error classes so callers never see a raw fetch error or a half-parsed body.
 */
import { EnvHttpProxyAgent, type Dispatcher, fetch as undiciFetch } from 'undici';
import type { AppConfig } from '../config';
import { UpstreamError } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { mapTokenError, parseRetryAfter, parseTokens, webexErrorDetail } from './answers';
import { orgUuid } from './org-id';

export interface WebexTokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  refresh_token_expires_in: number;
  scope?: string;
}

export interface WebexPerson {
  id?: string;
  displayName?: string;
  emails?: string[];
  orgId?: string;
}

export type WebexEndpoint = 'token' | 'refresh' | 'people_me';

export interface WebexClientOptions {
  authorizeUrl: string;
  tokenUrl: string;
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  timeoutMs: number;
  /** Told about every upstream call, for metrics. */
  onCall?: (endpoint: WebexEndpoint, outcome: string, seconds: number) => void;
  /** Where Webex's own error text and trackingId go: the log, never a page. */
  logger?: Pick<Logger, 'warn'>;
  /** Sends every call through this undici dispatcher (the egress proxy agent). */
  dispatcher?: Dispatcher;
  fetch?: typeof fetch;
}

export class WebexClient {
  private readonly fetchImpl: typeof fetch;

  /** The service's HTTP egress (through the proxy agent, when there is one), for other callers. */
  get egressFetch(): typeof fetch {
    return this.fetchImpl;
  }

  constructor(private readonly options: WebexClientOptions) {
    const dispatcher = options.dispatcher;
    // Node's own fetch is undici too, but only the package's fetch takes its dispatchers.
    this.fetchImpl =
      options.fetch ??
      (dispatcher
        ? (((url: string, init: RequestInit) =>
            undiciFetch(url, {
              ...(init as Parameters<typeof undiciFetch>[1]),
              dispatcher,
            })) as unknown as typeof fetch)
        : fetch);
  }

  /** Closes the proxy agent's connections, if there is one (shutdown). */
  async close(): Promise<void> {
    await this.options.dispatcher?.close();
  }

  /** Where to send the browser: the authorize request with PKCE S256. */
  authorizeUrl(params: {
    scopes: readonly string[];
    state: string;
    codeChallenge: string;
  }): string {
    const url = new URL(this.options.authorizeUrl);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.options.clientId);
    url.searchParams.set('redirect_uri', this.options.redirectUri);
    url.searchParams.set('scope', params.scopes.join(' '));
    url.searchParams.set('state', params.state);
    url.searchParams.set('code_challenge', params.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
    return url.toString();
  }

  exchangeCode(code: string, codeVerifier: string): Promise<WebexTokens> {
    return this.tokenRequest('token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.options.redirectUri,
      code_verifier: codeVerifier,
    });
  }

  refresh(refreshToken: string): Promise<WebexTokens> {
    return this.tokenRequest('refresh', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
  }

  /**
   * Who signed in. Rejects with UpstreamError; callers decide whether that matters. The org id
   * comes back as the UUID Control Hub shows when it decodes as one.
   */
  async me(accessToken: string): Promise<WebexPerson> {
    const { status, body, done, retryAfter } = await this.send(
      'people_me',
      `${this.options.apiUrl}/people/me`,
      {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      },
    );
    if (status === 429 || status >= 500) {
      done(`http_${status}`);
      this.logWebexError('people_me', status, body);
      throw new UpstreamError(
        'people/me',
        status === 429 ? 'rate_limited' : 'unavailable',
        undefined,
        retryAfter,
      );
    }
    if (status < 200 || status >= 300 || typeof body !== 'object' || body === null) {
      done(status >= 300 ? `http_${status}` : 'bad_response');
      if (status >= 300) this.logWebexError('people_me', status, body);
      throw new UpstreamError('people/me', status >= 300 ? 'http_error' : 'bad_response');
    }
    done('ok');
    const b = body as Record<string, unknown>;
    return {
      id: typeof b.id === 'string' ? b.id : undefined,
      displayName: typeof b.displayName === 'string' ? b.displayName : undefined,
      emails: Array.isArray(b.emails)
        ? b.emails.filter((e): e is string => typeof e === 'string')
        : undefined,
      orgId: typeof b.orgId === 'string' ? (orgUuid(b.orgId) ?? b.orgId) : undefined,
    };
  }

  /** Webex's message and trackingId help its support find the call; they go to the log only. */
  private logWebexError(endpoint: WebexEndpoint, status: number, body: unknown): void {
    const detail = webexErrorDetail(body);
    this.options.logger?.warn(
      { event: 'webex_error', endpoint, status, ...detail },
      'Webex answered with an error',
    );
  }

  private async tokenRequest(
    endpoint: 'token' | 'refresh',
    params: Record<string, string>,
  ): Promise<WebexTokens> {
    const form = new URLSearchParams({
      ...params,
      client_id: this.options.clientId,
      client_secret: this.options.clientSecret,
    });
    const { status, body, done, retryAfter } = await this.send(endpoint, this.options.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
    });
    if (status === 429 || status >= 500) {
      done(`http_${status}`);
      this.logWebexError(endpoint, status, body);
      throw new UpstreamError(
        'access_token',
        status === 429 ? 'rate_limited' : 'unavailable',
        undefined,
        retryAfter,
      );
    }
    if (status < 200 || status >= 300) {
      done(`http_${status}`);
      this.logWebexError(endpoint, status, body);
      throw mapTokenError(endpoint, status, body);
    }
    const tokens = parseTokens(body);
    done(tokens ? 'ok' : 'bad_response');
    if (!tokens) throw new UpstreamError('access_token', 'bad_response');
    return tokens;
  }

  /**
   * One call with a timeout covering the whole exchange, body included. The body comes back
   * parsed as JSON, or undefined for anything else (HTML error pages, empty bodies).
   * `done(outcome)` records the latency metric once the caller has judged the answer.
   */
  private async send(endpoint: WebexEndpoint, url: string, init: RequestInit) {
    const t0 = performance.now();
    const done = (outcome: string) =>
      this.options.onCall?.(endpoint, outcome, (performance.now() - t0) / 1000);
    let status: number;
    let text: string;
    let retryAfter: number | undefined;
    try {
      const res = await this.fetchImpl(url, {
        ...init,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      status = res.status;
      retryAfter = parseRetryAfter(res.headers.get('retry-after'));
      text = await res.text();
    } catch (err) {
      // By name, not instanceof Error: fetch's errors may come from another realm (a vm
      // sandbox such as Jest's), where instanceof Error is false.
      const name = (err as { name?: unknown } | null)?.name;
      const timeout = name === 'TimeoutError' || name === 'AbortError';
      done(timeout ? 'timeout' : 'unreachable');
      throw new UpstreamError(
        endpoint === 'people_me' ? 'people/me' : 'access_token',
        timeout ? 'timeout' : 'unreachable',
        err,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status, body, done, retryAfter };
  }
}

/** The client for a loaded configuration, reporting every call to the latency histogram. */
export function webexClientFor(
  config: Pick<AppConfig, 'webex' | 'clientId' | 'clientSecret' | 'redirectUri'> &
    Partial<Pick<AppConfig, 'sandbox'>>,
  metrics: Pick<Metrics, 'webexLatency'>,
  logger?: Pick<Logger, 'warn'>,
): WebexClient {
  const { proxy, ...webex } = config.webex;
  return new WebexClient({
    ...webex,
    ...(logger ? { logger } : {}),
    // With SANDBOX=true Webex is this very process: a proxy set in a developer's shell
    // would only get in the way.
    ...((proxy.httpsProxy || proxy.httpProxy) && !config.sandbox
      ? {
          // Explicit values (empty strings included), so the agent never reads the environment
          // itself: src/config/ is the only reader of process.env.
          dispatcher: new EnvHttpProxyAgent({
            httpProxy: proxy.httpProxy,
            httpsProxy: proxy.httpsProxy,
            noProxy: proxy.noProxy,
          }),
        }
      : {}),
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redirectUri: config.redirectUri,
    onCall: (endpoint, outcome, seconds) =>
      metrics.webexLatency.observe({ endpoint, outcome }, seconds),
  });
}
