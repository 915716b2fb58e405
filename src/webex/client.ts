/**
 * A small Webex OAuth client: builds the authorize URL, exchanges codes, refreshes tokens and
 * asks people/me who signed in. Every call has a timeout; every failure becomes one of our
 * error classes so callers never see a raw fetch error or a half-parsed body.
 */
import { OAuthError, UpstreamError } from '../errors';

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
  authorizeUrl(params: { scopes: readonly string[]; state: string; codeChallenge: string }): string {
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
    return this.tokenRequest('refresh', { grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  /** Who signed in. Rejects with UpstreamError; callers decide whether that matters. */
  async me(accessToken: string): Promise<WebexPerson> {
    const res = await this.call('people_me', `${this.options.apiUrl}/people/me`, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
    });
    const body = await this.readJson('people_me', res);
    if (!res.ok || typeof body !== 'object' || body === null) {
      this.report('people_me', res.ok ? 'bad_response' : `http_${res.status}`);
      throw new UpstreamError('people/me', res.ok ? 'bad_response' : 'http_error');
    }
    const b = body as Record<string, unknown>;
    return {
      id: typeof b.id === 'string' ? b.id : undefined,
      displayName: typeof b.displayName === 'string' ? b.displayName : undefined,
      emails: Array.isArray(b.emails) ? b.emails.filter((e): e is string => typeof e === 'string') : undefined,
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
    const res = await this.call(endpoint, this.options.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
    });
    const body = await this.readJson(endpoint, res);
    if (res.status >= 500) {
      this.report(endpoint, `http_${res.status}`);
      throw new UpstreamError('access_token', 'http_error');
    }
    if (!res.ok) {
      this.report(endpoint, `http_${res.status}`);
      throw mapTokenError(endpoint, res.status, body);
    }
    const tokens = parseTokens(body);
    if (!tokens) {
      this.report(endpoint, 'bad_response');
      throw new UpstreamError('access_token', 'bad_response');
    }
    this.report(endpoint, 'ok');
    return tokens;
  }

  private started = new WeakMap<Response, number>();

  private async call(endpoint: WebexEndpoint, url: string, init: RequestInit): Promise<Response> {
    const t0 = performance.now();
    try {
      const res = await this.fetchImpl(url, {
        ...init,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      this.started.set(res, t0);
      return res;
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      this.options.onCall?.(endpoint, timeout ? 'timeout' : 'unreachable', (performance.now() - t0) / 1000);
      throw new UpstreamError(endpoint === 'people_me' ? 'people/me' : 'access_token', timeout ? 'timeout' : 'unreachable', err);
    }
  }

  /** The body as JSON, or undefined for anything else (HTML error pages, empty bodies). */
  private async readJson(endpoint: WebexEndpoint, res: Response): Promise<unknown> {
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      this.report(endpoint, timeout ? 'timeout' : 'unreachable', res);
      throw new UpstreamError('access_token', timeout ? 'timeout' : 'unreachable', err);
    }
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  private report(endpoint: WebexEndpoint, outcome: string, res?: Response): void {
    const t0 = res ? this.started.get(res) : undefined;
    this.options.onCall?.(endpoint, outcome, t0 === undefined ? 0 : (performance.now() - t0) / 1000);
  }
}

function parseTokens(body: unknown): WebexTokens | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  const str = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length < 8192;
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!str(b.access_token) || !num(b.expires_in) || !str(b.refresh_token) || !num(b.refresh_token_expires_in)) {
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
    return new OAuthError(502, 'server_error', 'Webex refused this service\'s client credentials.', {
      title: 'This service is misconfigured',
      hint: 'The operators need to check CLIENT_ID and CLIENT_SECRET against the integration on developer.webex.com.',
      expose: true,
    });
  }
  if (endpoint === 'refresh') {
    return new OAuthError(400, 'invalid_grant', 'Webex refused the refresh token: it has expired, was revoked, or belongs to another integration. Run the device flow (webex-token login) again to get new tokens.');
  }
  return new OAuthError(400, 'invalid_grant', 'Webex refused the sign-in code: it has expired or was already used.', {
    title: 'The sign-in could not be completed',
    hint: 'Start again from the home page; sign-in codes are valid for a few minutes only.',
  });
}
