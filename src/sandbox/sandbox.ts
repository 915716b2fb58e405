/**
 * A simulated Webex: authorize page (Accept / Decline / sign in as a non-admin), token
 * endpoint (authorization_code with PKCE, refresh_token) and people/me. Used by the demo
 * (mounted under /sandbox/v1 when SANDBOX=true) and by the tests as a real HTTP upstream.
 * Faults can be switched on to rehearse Webex misbehaving.
 */
import crypto from 'node:crypto';
import Router from '@koa/router';
import type Koa from 'koa';

export type TokenFault =
  'http500' | 'timeout' | 'html' | 'missing_fields' | 'reset' | 'invalid_client';
export type PeopleFault = 'http403' | 'timeout';

export interface SandboxUser {
  id: string;
  displayName: string;
  email: string;
  orgId: string;
  admin: boolean;
}

export interface SandboxOptions {
  clientId: string;
  clientSecret: string;
  /** Prefix of issued tokens, so tests can recognise them anywhere. */
  tokenPrefix?: string;
  orgId?: string;
  accessTokenLifetime?: number;
  refreshTokenLifetime?: number;
  /** How long a timeout fault holds the request, in ms. */
  hangMs?: number;
}

interface IssuedCode {
  user: SandboxUser;
  scopes: string[];
  challenge: string;
  redirectUri: string;
  expiresAt: number;
}

export class Sandbox {
  readonly faults: { token?: TokenFault; people?: PeopleFault } = {};
  /** Counters tests assert on (e.g. "the token endpoint was not called"). */
  readonly calls = { authorize: 0, token: 0, refresh: 0, peopleMe: 0 };
  /** Every token pair issued, newest last, so tests can look for the values anywhere. */
  readonly issued: { access_token: string; refresh_token: string }[] = [];
  /** The query of the last authorize request, as received. */
  lastAuthorize: URLSearchParams | undefined;
  private readonly codes = new Map<string, IssuedCode>();
  private readonly accessTokens = new Map<string, SandboxUser>();
  private readonly refreshTokens = new Map<string, { user: SandboxUser; scopes: string[] }>();
  readonly users: { admin: SandboxUser; user: SandboxUser };

  constructor(readonly options: SandboxOptions) {
    const orgId = options.orgId ?? 'sandbox-org-0001';
    this.users = {
      admin: {
        id: 'sandbox-person-admin',
        displayName: 'Ada Admin',
        email: 'ada.admin@sandbox.example',
        orgId,
        admin: true,
      },
      user: {
        id: 'sandbox-person-user',
        displayName: 'Uma User',
        email: 'uma.user@sandbox.example',
        orgId,
        admin: false,
      },
    };
  }

  private token(kind: string): string {
    return `${this.options.tokenPrefix ?? 'SBX'}_${kind}_${crypto.randomBytes(24).toString('base64url')}`;
  }

  /** Routes, to be mounted at `<base>/v1`; the app renders the authorize page (ctx.render). */
  router(prefix = '/sandbox/v1'): Router {
    const r = new Router({ prefix });

    r.get('/authorize', async (ctx) => {
      this.calls.authorize++;
      const q = new URLSearchParams(ctx.querystring);
      this.lastAuthorize = q;
      const problem = this.checkAuthorize(q);
      ctx.set('Cache-Control', 'no-store');
      if (problem) {
        ctx.status = 400;
        await ctx.render('sandbox-authorize', { problem, params: [] });
        return;
      }
      await ctx.render('sandbox-authorize', {
        problem: null,
        scopes: (q.get('scope') ?? '').split(' ').filter(Boolean),
        params: [...q.entries()],
        action: `${prefix}/authorize`,
      });
    });

    r.post('/authorize', async (ctx) => {
      const body = (ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {};
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(body))
        if (typeof v === 'string' && k !== 'decision') q.set(k, v);
      const problem = this.checkAuthorize(q);
      if (problem) {
        ctx.status = 400;
        await ctx.render('sandbox-authorize', { problem, params: [] });
        return;
      }
      const redirect = new URL(q.get('redirect_uri')!);
      const state = q.get('state');
      if (state) redirect.searchParams.set('state', state);
      const scopes = (q.get('scope') ?? '').split(' ').filter(Boolean);
      const decision = body.decision;
      const user = decision === 'non-admin' ? this.users.user : this.users.admin;
      if (decision === 'decline') {
        redirect.searchParams.set('error', 'access_denied');
        redirect.searchParams.set('error_description', 'The user declined the request');
      } else if (
        !user.admin &&
        scopes.some(
          (s) =>
            s.startsWith('spark-admin:') ||
            s.startsWith('spark-compliance:') ||
            s.startsWith('audit:'),
        )
      ) {
        redirect.searchParams.set('error', 'invalid_scope');
        redirect.searchParams.set(
          'error_description',
          'No user entitled service in request scopes',
        );
      } else {
        const code = this.token('CODE');
        this.codes.set(code, {
          user,
          scopes,
          challenge: q.get('code_challenge') ?? '',
          redirectUri: q.get('redirect_uri')!,
          expiresAt: Date.now() + 5 * 60_000,
        });
        redirect.searchParams.set('code', code);
      }
      ctx.redirect(redirect.toString());
    });

    r.post('/access_token', async (ctx) => {
      const body = ((ctx.request as unknown as { body?: Record<string, unknown> }).body ??
        {}) as Record<string, string>;
      if (body.grant_type === 'refresh_token') this.calls.refresh++;
      else this.calls.token++;
      if (await this.applyTokenFault(ctx)) return;
      if (
        body.client_id !== this.options.clientId ||
        body.client_secret !== this.options.clientSecret
      ) {
        ctx.status = 401;
        ctx.body = { error: 'invalid_client', error_description: 'Client authentication failed' };
        return;
      }
      if (body.grant_type === 'authorization_code') {
        const issued = body.code ? this.codes.get(body.code) : undefined;
        if (issued) this.codes.delete(body.code!);
        const verifierOk =
          issued &&
          crypto
            .createHash('sha256')
            .update(body.code_verifier ?? '')
            .digest('base64url') === issued.challenge;
        if (
          !issued ||
          issued.expiresAt < Date.now() ||
          issued.redirectUri !== body.redirect_uri ||
          !verifierOk
        ) {
          ctx.status = 400;
          ctx.body = {
            message:
              'The authorization code is invalid or expired, or the PKCE verifier does not match.',
            errors: [{ description: 'invalid_grant' }],
            trackingId: 'SANDBOX',
          };
          return;
        }
        ctx.body = this.issue(issued.user, issued.scopes);
        return;
      }
      if (body.grant_type === 'refresh_token') {
        const entry = body.refresh_token ? this.refreshTokens.get(body.refresh_token) : undefined;
        if (!entry) {
          ctx.status = 400;
          ctx.body = {
            message: 'Invalid refresh token',
            errors: [{ description: 'Invalid refresh token' }],
            trackingId: 'SANDBOX',
          };
          return;
        }
        ctx.body = this.issue(entry.user, entry.scopes, body.refresh_token);
        return;
      }
      ctx.status = 400;
      ctx.body = { error: 'unsupported_grant_type' };
    });

    r.get('/people/me', async (ctx) => {
      this.calls.peopleMe++;
      if (this.faults.people === 'timeout') {
        await new Promise((resolve) => setTimeout(resolve, this.options.hangMs ?? 3000));
      }
      const auth = ctx.get('authorization');
      const user = this.accessTokens.get(auth.replace(/^Bearer /, ''));
      if (!user || this.faults.people === 'http403') {
        ctx.status = user ? 403 : 401;
        ctx.body = {
          message: 'The requested resource could not be found or you are not authorized.',
        };
        return;
      }
      ctx.body = {
        id: user.id,
        displayName: user.displayName,
        emails: [user.email],
        orgId: user.orgId,
        type: 'person',
      };
    });

    return r;
  }

  private checkAuthorize(q: URLSearchParams): string | null {
    if (q.get('response_type') !== 'code') return 'response_type must be "code".';
    if (q.get('client_id') !== this.options.clientId)
      return 'Unknown client_id: this is not the sandbox integration.';
    if (!q.get('redirect_uri')) return 'redirect_uri is missing.';
    if (!q.get('scope')) return 'scope is missing.';
    if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge'))
      return 'PKCE (S256) is required.';
    return null;
  }

  private issue(user: SandboxUser, scopes: string[], oldRefresh?: string) {
    const access = this.token('AT');
    const refresh = oldRefresh ?? this.token('RT');
    this.accessTokens.set(access, user);
    this.refreshTokens.set(refresh, { user, scopes });
    this.issued.push({ access_token: access, refresh_token: refresh });
    return {
      access_token: access,
      token_type: 'Bearer',
      expires_in: this.options.accessTokenLifetime ?? 1209599,
      refresh_token: refresh,
      refresh_token_expires_in: this.options.refreshTokenLifetime ?? 7775999,
      scope: scopes.join(' '),
    };
  }

  /** Answers for a switched-on fault; true when the request was handled. */
  private async applyTokenFault(ctx: Koa.Context): Promise<boolean> {
    switch (this.faults.token) {
      case undefined:
        return false;
      case 'http500':
        ctx.status = 500;
        ctx.body = { message: 'Internal server error', trackingId: 'SANDBOX' };
        return true;
      case 'timeout':
        await new Promise((resolve) => setTimeout(resolve, this.options.hangMs ?? 3000));
        ctx.status = 504;
        ctx.body = 'late';
        return true;
      case 'html':
        ctx.status = 200;
        ctx.type = 'text/html';
        ctx.body = '<html><body><h1>Service Unavailable</h1></body></html>';
        return true;
      case 'missing_fields':
        ctx.body = { access_token: this.token('AT'), token_type: 'Bearer' };
        return true;
      case 'reset':
        ctx.req.socket.destroy();
        ctx.respond = false;
        return true;
      case 'invalid_client':
        ctx.status = 401;
        ctx.body = { error: 'invalid_client' };
        return true;
    }
  }
}
