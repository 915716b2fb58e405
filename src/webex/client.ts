/**
 * A small Webex OAuth client: builds the authorize URL, exchanges codes, refreshes tokens and
 * asks people/me who signed in. Every call has a timeout; every failure becomes one of our
 * error classes so callers never see a raw fetch error or a half-parsed body.
 */
import type { AppConfig } from '../config';
import { OAuthError, UpstreamError } from '../errors';
import type { Metrics } from '../metrics';

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
  fetch?: typeof fetch;
}

export class WebexClient {
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: WebexClientOptions) {
    this.fetchImpl = options.fetch ?? fetch;
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

  /** Who signed in. Rejects with UpstreamError; callers decide whether that matters. */
  async me(accessToken: string): Promise<WebexPerson> {
    const { status, body, done } = await this.send(
      'people_me',
      `${this.options.apiUrl}/people/me`,
      {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      },
    );
    if (status < 200 || status >= 300 || typeof body !== 'object' || body === null) {
      done(status >= 300 ? `http_${status}` : 'bad_response');
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
      orgId: typeof b.orgId === 'string' ? b.orgId : undefined,
    };
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
    const { status, body, done } = await this.send(endpoint, this.options.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
    });
    if (status >= 500) {
      done(`http_${status}`);
      throw new UpstreamError('access_token', 'http_error');
    }
    if (status < 200 || status >= 300) {
      done(`http_${status}`);
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
    try {
      const res = await this.fetchImpl(url, {
        ...init,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      status = res.status;
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
    return { status, body, done };
  }
}

function parseTokens(body: unknown): WebexTokens | null {
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
function mapTokenError(endpoint: 'token' | 'refresh', status: number, body: unknown): OAuthError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const code = typeof b.error === 'string' ? b.error : '';
  if (status === 401 || code === 'invalid_client' || code === 'unauthorized_client') {
    return new OAuthError(502, 'server_error', "Webex refused this service's client credentials.", {
      title: 'This service is misconfigured',
      hint: 'The operators need to check CLIENT_ID and CLIENT_SECRET against the integration on developer.webex.com.',
      expose: true,
    });
  }
  if (endpoint === 'refresh') {
    return new OAuthError(
      400,
      'invalid_grant',
      'Webex refused the refresh token: it has expired, was revoked, or belongs to another integration. Run the device flow (webex-token login) again to get new tokens.',
    );
  }
  return new OAuthError(
    400,
    'invalid_grant',
    'Webex refused the sign-in code: it has expired or was already used.',
    {
      title: 'The sign-in could not be completed',
      hint: 'Start again from the home page; sign-in codes are valid for a few minutes only.',
    },
  );
}

/** The client for a loaded configuration, reporting every call to the latency histogram. */
export function webexClientFor(
  config: Pick<AppConfig, 'webex' | 'clientId' | 'clientSecret' | 'redirectUri'>,
  metrics: Pick<Metrics, 'webexLatency'>,
): WebexClient {
  return new WebexClient({
    ...config.webex,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redirectUri: config.redirectUri,
    onCall: (endpoint, outcome, seconds) =>
      metrics.webexLatency.observe({ endpoint, outcome }, seconds),
  });
}
