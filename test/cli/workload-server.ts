/**
 * A loopback stand-in for the service's side of workload identity (DESIGN.md, "Workload
 * identity"), plus GitHub's runner endpoint that mints ID tokens: enough of the contract for
 * the CLI's tests. Device authorization accepts `subject_token` (a JWT for the server's
 * audience, else invalid_grant); approval is immediate and binds the token's `sub`; the token
 * endpoint answers the RFC 8693 exchange for a bound `sub` and invalid_grant otherwise. Each
 * `jti` is accepted once. Signatures are not checked: that is the service's own test suite.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const GITHUB_SUB = 'repo:acme/deploy:ref:refs/heads/main';
export const RUNNER_BEARER = 'runner-request-token';
export const GRANT_SCOPES = ['spark-admin:people_read', 'spark:people_read'];

/** An unsigned JWT-shaped token (the CLI reads its payload; the service would verify it). */
export function jwt(claims: Record<string, unknown>): string {
  const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${part(claims)}.c2lnbmF0dXJl`;
}

function claimsOf(token: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
  } catch {
    return undefined;
  }
}

export interface Recorded {
  path: string;
  params: Record<string, string>;
}

export class WorkloadServer {
  base = '';
  /** Every form POST to the service, in order. */
  readonly posts: Recorded[] = [];
  /** Query strings GitHub's endpoint was asked with. */
  readonly idTokenRequests: URLSearchParams[] = [];
  /** `sub`s with a grant (bound at approval). */
  readonly bound = new Set<string>();
  /** Answer the next N exchanges with 503 temporarily_unavailable and Retry-After: 1. */
  unavailable = 0;
  private readonly usedJti = new Set<string>();
  private server: http.Server | undefined;

  get githubEnv(): Record<string, string> {
    return {
      ACTIONS_ID_TOKEN_REQUEST_URL: `${this.base}/_github/idtoken?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: RUNNER_BEARER,
    };
  }

  /** A GitLab-style ID token, as GitLab puts one into an `id_tokens:` variable. */
  gitlabToken(aud = this.base, sub = 'project_path:acme/deploy:ref_type:branch:ref:main'): string {
    return jwt({ iss: 'https://gitlab.example.com', aud, sub, jti: randomUUID() });
  }

  exchanges(): Recorded[] {
    return this.posts.filter((p) => p.params.grant_type === TOKEN_EXCHANGE);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => this.handle(req, body, res));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Extra routes, tried first. */
  extra: ((req: http.IncomingMessage, res: http.ServerResponse) => boolean) | undefined;
  private cliSha256: string | undefined;

  /** Serves `file` as /cli/webex-token.js, with its SHA-256 in the metadata (the CI scripts check it). */
  serveCli(file: Buffer): void {
    this.cliSha256 = createHash('sha256').update(file).digest('hex');
    this.extra = (req, res) => {
      if (req.url !== '/cli/webex-token.js') return false;
      res.writeHead(200, { 'content-type': 'application/javascript' }).end(file);
      return true;
    };
  }

  private handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.base);
    const json = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
      res
        .writeHead(status, {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          ...headers,
        })
        .end(JSON.stringify(value));
    };
    if (this.extra?.(req, res)) return;
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      return json(200, {
        issuer: this.base,
        device_authorization_endpoint: `${this.base}/oauth2/device_authorization`,
        token_endpoint: `${this.base}/oauth2/token`,
        revocation_endpoint: `${this.base}/oauth2/revoke`,
        grant_types_supported: [
          'urn:ietf:params:oauth:grant-type:device_code',
          'refresh_token',
          TOKEN_EXCHANGE,
        ],
        scopes_supported: GRANT_SCOPES,
        webex_scoped_tokens: {
          version: 'test',
          scopes_mode: 'dynamic',
          cli_sha256: this.cliSha256,
        },
      });
    }
    if (url.pathname === '/_github/idtoken') {
      this.idTokenRequests.push(url.searchParams);
      if (req.headers.authorization !== `Bearer ${RUNNER_BEARER}`) {
        return json(401, { message: 'Unauthorized' });
      }
      const aud = url.searchParams.get('audience');
      return json(200, {
        count: 1,
        value: jwt({
          iss: 'https://token.actions.githubusercontent.com',
          aud,
          sub: GITHUB_SUB,
          repository: 'acme/deploy',
          jti: randomUUID(),
        }),
      });
    }
    if (req.method !== 'POST') return json(404, { error: 'not_found' });
    const params = Object.fromEntries(new URLSearchParams(body));
    this.posts.push({ path: url.pathname, params });
    if (params.client_id !== 'cli') {
      return json(401, { error: 'invalid_client', error_description: 'Unknown client.' });
    }
    if (url.pathname === '/oauth2/revoke') return json(200, {});
    if (url.pathname === '/oauth2/device_authorization') return this.authorize(params, json);
    if (url.pathname === '/oauth2/token') return this.token(params, json);
    return json(404, { error: 'not_found' });
  }

  /** The subject token's `sub`, or the reason it is refused. */
  private verify(params: Record<string, string>): { sub: string } | { refused: string } {
    if (params.subject_token_type !== JWT_TYPE) {
      return { refused: 'subject_token_type must be urn:ietf:params:oauth:token-type:jwt.' };
    }
    const claims = claimsOf(params.subject_token ?? '');
    if (!claims || claims.aud !== this.base)
      return { refused: 'The ID token is not for this service.' };
    const jti = String(claims.jti);
    if (this.usedJti.has(jti))
      return { refused: 'This ID token was already used; each one is accepted once.' };
    this.usedJti.add(jti);
    return { sub: String(claims.sub) };
  }

  private pendingBinding: string | undefined;

  private authorize(
    params: Record<string, string>,
    json: (status: number, value: unknown) => void,
  ): void {
    if (params.subject_token !== undefined) {
      const verified = this.verify(params);
      if ('refused' in verified) {
        return json(400, { error: 'invalid_grant', error_description: verified.refused });
      }
      this.pendingBinding = verified.sub;
    }
    json(200, {
      device_code: 'DEVICE-CODE',
      user_code: 'BCDF-GHJK',
      verification_uri: `${this.base}/device`,
      verification_uri_complete: `${this.base}/device?user_code=BCDF-GHJK`,
      expires_in: 600,
      interval: 1,
    });
  }

  private token(
    params: Record<string, string>,
    json: (status: number, value: unknown, headers?: Record<string, string>) => void,
  ): void {
    if (params.grant_type === 'urn:ietf:params:oauth:grant-type:device_code') {
      // Approved at once: the binding is made, the tokens go to the polling job.
      if (this.pendingBinding !== undefined) this.bound.add(this.pendingBinding);
      this.pendingBinding = undefined;
      return json(200, {
        access_token: 'AT-login',
        token_type: 'Bearer',
        expires_in: 1209600,
        refresh_token: 'wst_rt_login',
        refresh_token_expires_in: 7776000,
        scope: GRANT_SCOPES.join(' '),
      });
    }
    if (params.grant_type !== TOKEN_EXCHANGE) {
      return json(400, { error: 'unsupported_grant_type' });
    }
    if (this.unavailable > 0) {
      this.unavailable -= 1;
      return json(
        503,
        { error: 'temporarily_unavailable', error_description: 'Webex is not answering.' },
        { 'retry-after': '1' },
      );
    }
    const verified = this.verify(params);
    if ('refused' in verified) {
      return json(400, { error: 'invalid_grant', error_description: verified.refused });
    }
    if (!this.bound.has(verified.sub)) {
      return json(400, {
        error: 'invalid_grant',
        error_description: 'No grant is bound to this job.',
      });
    }
    const asked = params.scope?.split(' ') ?? GRANT_SCOPES;
    if (asked.some((s) => !GRANT_SCOPES.includes(s))) {
      return json(400, {
        error: 'invalid_scope',
        error_description: 'The grant does not include every scope asked for.',
      });
    }
    json(200, {
      access_token: 'AT-exchanged',
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: 1000000,
      scope: asked.join(' '),
    });
  }
}
