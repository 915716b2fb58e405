/**
 * A simulated Webex: authorize page (Accept / Decline / sign in as a non-admin), token
 * endpoint (authorization_code with PKCE, refresh_token) and people/me. Used by the demo
 * (mounted under /sandbox/v1 when SANDBOX=true) and by the tests as a real HTTP upstream.
 * Faults can be switched on to rehearse Webex misbehaving (faults.ts answers them; options.ts
 * holds the options, people and fault names).
 *
 * By default it behaves as Webex does (docs/webex.md lists the sources): token answers carry
 * no `scope`; people/me needs a people-reading scope; org ids are base64 of
 * `ciscospark://us/ORGANIZATION/<uuid>`; a scope the integration did not register is
 * `invalid_scope`; errors look like `{message, errors: [{description}], trackingId}`.
 */
import crypto from 'node:crypto';
import Router from '@koa/router';
import { orgApiId } from '../webex/org-id';
import { SCOPE_CATALOG, canReadPeopleMe } from '../webex/scopes';
import { applyPeopleFault, applyTokenFault, webexError } from './faults';
import {
  SANDBOX_ORG_UUID,
  type PeopleFault,
  type SandboxOptions,
  type SandboxUser,
  type TokenFault,
} from './options';

export { SANDBOX_ORG_UUID } from './options';
export type { PeopleFault, SandboxOptions, SandboxUser, TokenFault } from './options';

interface IssuedCode {
  user: SandboxUser;
  scopes: string[];
  challenge: string;
  redirectUri: string;
  expiresAt: number;
}

export class Sandbox {
  readonly faults: {
    token?: TokenFault;
    people?: PeopleFault;
    /** Send error redirects without `state` (Webex does not document that it comes back). */
    errorWithoutState?: boolean;
  } = {};
  /** Counters tests assert on (e.g. "the token endpoint was not called"). */
  readonly calls = { authorize: 0, token: 0, refresh: 0, peopleMe: 0 };
  /** Every token pair issued, newest last, so tests can look for the values anywhere. */
  readonly issued: { access_token: string; refresh_token: string }[] = [];
  /** The query of the last authorize request, as received. */
  lastAuthorize: URLSearchParams | undefined;
  private readonly codes = new Map<string, IssuedCode>();
  private readonly redirectUris: Set<string>;
  private readonly accessTokens = new Map<string, { user: SandboxUser; scopes: string[] }>();
  private readonly refreshTokens = new Map<string, { user: SandboxUser; scopes: string[] }>();
  readonly users: { admin: SandboxUser; user: SandboxUser };

  constructor(readonly options: SandboxOptions) {
    this.redirectUris = new Set(options.redirectUris ?? []);
    const orgId = options.orgId ?? SANDBOX_ORG_UUID;
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
      const unregistered = this.unregisteredScopes(q);
      if (unregistered.length > 0) {
        // As Webex does: a scope not ticked on the integration sends the browser back at once.
        ctx.redirect(
          this.errorRedirect(
            q,
            'invalid_scope',
            `The requested scope is invalid: ${unregistered.join(' ')}`,
          ).toString(),
        );
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
      const scopes = (q.get('scope') ?? '').split(' ').filter(Boolean);
      const decision = body.decision;
      const user = decision === 'non-admin' ? this.users.user : this.users.admin;
      let redirect: URL;
      if (decision === 'decline') {
        redirect = this.errorRedirect(q, 'access_denied', 'The user declined the request');
      } else if (
        !user.admin &&
        scopes.some(
          (s) =>
            s.startsWith('spark-admin:') ||
            s.startsWith('spark-compliance:') ||
            s.startsWith('audit:'),
        )
      ) {
        redirect = this.errorRedirect(
          q,
          'invalid_scope',
          'No user entitled service in request scopes',
        );
      } else {
        redirect = new URL(q.get('redirect_uri')!);
        const state = q.get('state');
        if (state) redirect.searchParams.set('state', state);
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
      if (await applyTokenFault(ctx, this.faults.token, this.options, (kind) => this.token(kind))) {
        return;
      }
      if (
        body.client_id !== this.options.clientId ||
        body.client_secret !== this.options.clientSecret
      ) {
        ctx.status = 401;
        ctx.body = webexError('invalid_client: client authentication failed');
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
      if (await applyPeopleFault(ctx, this.faults.people, this.options)) return;
      const auth = ctx.get('authorization');
      const entry = this.accessTokens.get(auth.replace(/^Bearer /, ''));
      const user = entry?.user;
      // Webex answers people/me only to a token with a people-reading scope.
      if (!entry || !canReadPeopleMe(entry.scopes) || this.faults.people === 'http403') {
        ctx.status = entry ? 403 : 401;
        ctx.body = webexError(
          'The requested resource could not be found or you are not authorized.',
        );
        return;
      }
      if (!user) return;
      ctx.body = {
        id: user.id,
        displayName: user.displayName,
        emails: [user.email],
        orgId: orgApiId(user.orgId),
        type: 'person',
      };
    });

    return r;
  }

  private checkAuthorize(q: URLSearchParams): string | null {
    if (q.get('response_type') !== 'code') return 'response_type must be "code".';
    if (q.get('client_id') !== this.options.clientId)
      return 'Unknown client_id: this is not the sandbox integration.';
    const redirectUri = q.get('redirect_uri');
    if (!redirectUri) return 'redirect_uri is missing.';
    if (!this.redirectAllowed(redirectUri))
      return "redirect_uri is not the service's own callback: the sandbox sends browsers back only to REDIRECT_URI.";
    if (!q.get('scope')) return 'scope is missing.';
    if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge'))
      return 'PKCE (S256) is required.';
    return null;
  }

  private unregisteredScopes(q: URLSearchParams): string[] {
    const registered = new Set(this.options.registeredScopes ?? SCOPE_CATALOG.map((s) => s.scope));
    return (q.get('scope') ?? '').split(' ').filter((s) => s && !registered.has(s));
  }

  /** Back to the client with an error; `state` is left off when that fault is on. */
  private errorRedirect(q: URLSearchParams, error: string, description: string): URL {
    const redirect = new URL(q.get('redirect_uri')!);
    const state = q.get('state');
    if (state && !this.faults.errorWithoutState) redirect.searchParams.set('state', state);
    redirect.searchParams.set('error', error);
    redirect.searchParams.set('error_description', description);
    return redirect;
  }

  /** Another service callback this sandbox may send browsers back to (tests share a sandbox). */
  allowRedirectUri(uri: string): void {
    this.redirectUris.add(uri);
  }

  private redirectAllowed(uri: string): boolean {
    if (this.redirectUris.size > 0) return this.redirectUris.has(uri);
    try {
      const url = new URL(uri);
      return (
        url.protocol === 'http:' &&
        ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) &&
        url.pathname === '/oauth'
      );
    } catch {
      return false;
    }
  }

  private issue(user: SandboxUser, scopes: string[], oldRefresh?: string) {
    const access = this.token('AT');
    const refresh = oldRefresh ?? this.token('RT');
    this.accessTokens.set(access, { user, scopes });
    this.refreshTokens.set(refresh, { user, scopes });
    this.issued.push({ access_token: access, refresh_token: refresh });
    return {
      access_token: access,
      token_type: 'Bearer',
      expires_in: this.options.accessTokenLifetime ?? 1209599,
      refresh_token: refresh,
      refresh_token_expires_in: this.options.refreshTokenLifetime ?? 7775999,
    };
  }
}
