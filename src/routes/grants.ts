import Router from '@koa/router';
import type Koa from 'koa';
import type { AppConfig } from '../config';
import { HttpError } from '../errors';
import { startAuthorization } from '../flows/browser';
import type { FlowDeps } from '../flows/context';
import {
  type GrantActor,
  type GrantView,
  type Viewer,
  getGrant,
  grantsVisibleTo,
  isConsoleAdmin,
  mayManage,
  revokeGrantAs,
} from '../flows/grants';
import {
  CONSOLE_SCOPES,
  CONSOLE_SESSION_MS,
  type ConsoleSession,
  checkConsoleCsrf,
  closeConsoleSession,
  consoleCsrfToken,
  readConsoleSession,
} from '../flows/grants/console';
import { changeBindingAs, isBindingChange, narrowerWidths } from '../flows/grants/binding';
import { ensureBrowserId } from '../middleware/browser-id';
import { claimedUserAgent, utc } from '../views/format';
import { describeScope } from '../webex/scopes';
import { type WorkloadBinding, describeBinding } from '../workload/binding';
import { formBody, single } from './params';

/**
 * The console session cookie: a random id only (the viewer lives sealed in the store).
 * HttpOnly, SameSite=Lax, and Secure with the __Host- prefix behind HTTPS.
 */
export function consoleCookieName(config: AppConfig): string {
  return config.secure ? '__Host-wst_console' : 'wst_console';
}

function readSessionId(ctx: Koa.Context, config: AppConfig): string | undefined {
  return ctx.cookies.get(consoleCookieName(config)) ?? undefined;
}

/** Written by hand, as the browser cookie is: koa refuses Secure cookies behind a TLS proxy. */
export function setConsoleCookie(ctx: Koa.Context, config: AppConfig, value: string | null): void {
  const attrs = [
    `${consoleCookieName(config)}=${value ?? ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${value ? Math.floor(CONSOLE_SESSION_MS / 1000) : 0}`,
  ];
  if (config.secure) attrs.push('Secure');
  ctx.append('Set-Cookie', attrs.join('; '));
}

/** One and the same answer for an unknown grant and another's: the console reveals neither. */
function notYours(): HttpError {
  return new HttpError(
    403,
    'grant_not_available',
    'There is no grant with this id that you may manage: it does not exist, it has expired, or someone else approved it.',
    {
      title: 'Grant not available',
      hint: 'Go back to the grants console: it lists every grant you may revoke.',
    },
  );
}

function signedOut(message: string): HttpError {
  return new HttpError(401, 'console_signed_out', message, {
    title: 'Signed out',
    hint: 'Open the grants console, sign in again, and make the change from there.',
  });
}

function bindingRefused(): HttpError {
  return new HttpError(
    400,
    'binding_not_changed',
    "That change is not possible for this grant's CI binding: a binding can only be narrowed or removed here, and only on an active grant that has one.",
    {
      title: 'Binding not changed',
      hint: 'Go back to the grants console, reload it, and use the choices on the binding page. Widening a binding needs a new approval.',
    },
  );
}

function actorText(by: GrantActor): string {
  switch (by.kind) {
    case 'admin':
      return `${by.email} in the console`;
    case 'client':
      return `the script (${by.clientId}) itself`;
    default:
      return 'the service';
  }
}

function stateText(g: GrantView): string {
  if (g.state === 'active') return 'Active';
  if (!g.revoked) return 'Revoked';
  if (g.revoked.reason === 'reuse_detected') return 'Revoked: an old refresh token was reused';
  if (g.revoked.reason === 'webex_refused') return 'Ended: Webex refused its refresh token';
  return `Revoked by ${actorText(g.revoked.by)}`;
}

const at = (ms: number) => ({ iso: new Date(ms).toISOString(), utc: utc(ms) });

/** What a row of the table shows; no token or digest ever reaches the view. */
export function grantRow(g: GrantView) {
  return {
    id: g.id,
    client: g.client,
    mode: g.mode,
    scopes: g.scopes.map(describeScope),
    approver: g.approver,
    requester: {
      address: g.requester.address,
      userAgent: claimedUserAgent(g.requester.userAgent),
      workload: g.requester.workload
        ? {
            issuer: g.requester.workload.issuer,
            width: g.requester.workload.width,
            text: describeBinding(g.requester.workload),
          }
        : null,
    },
    created: at(g.createdAt),
    lastUsed: g.lastUsedAt === null ? null : at(g.lastUsedAt),
    lastUsedFrom: g.lastUsedFrom,
    useCount: g.useCount,
    active: g.state === 'active',
    bindingChangeable: g.state === 'active' && g.requester.workload !== null,
    state: stateText(g),
    revokedAt: g.revoked ? at(g.revoked.at) : null,
    expires: at(g.expiresAt),
  };
}

/** What the binding page offers: each narrower width, and removing the binding. */
function bindingChoices(binding: WorkloadBinding) {
  return [
    ...narrowerWidths(binding).map((width) => ({
      value: width,
      label: width === 'subject' ? `Only ${binding.sub}` : 'Any branch of the repository',
      consequence: describeBinding({ ...binding, width }),
    })),
    {
      value: 'remove',
      label: 'Remove the binding',
      consequence:
        "No CI job may exchange an ID token for this grant's tokens any more. The script's refresh token keeps working; revoke the grant to end that too.",
    },
  ];
}

/** The grants console at /grants: sign in with Webex, see grants, revoke them. */
export function grantsRouter(deps: FlowDeps): Router {
  const { config } = deps;
  const router = new Router();

  const session = async (
    ctx: Koa.Context,
  ): Promise<{ id: string; session: ConsoleSession } | null> => {
    const id = readSessionId(ctx, config);
    const found = await readConsoleSession(deps, id);
    return found && id ? { id, session: found } : null;
  };

  const common = (id: string, s: ConsoleSession) => ({
    current: 'grants',
    csrf: consoleCsrfToken(deps, id),
    viewer: { ...s.viewer, name: s.name, admin: isConsoleAdmin(config, s.viewer) },
    sessionEnds: at(s.expiresAt),
    integrationId: config.clientId,
  });

  router.get('grants', '/grants', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const signed = await session(ctx);
    if (!signed) {
      await ctx.render('grants-signin', {
        pageTitle: 'Grants',
        current: 'grants',
        scopes: CONSOLE_SCOPES.map(describeScope),
      });
      return;
    }
    const grants = await grantsVisibleTo(deps, signed.session.viewer);
    const revokedId = typeof ctx.query.revoked === 'string' ? ctx.query.revoked : '';
    const justRevoked = grants.find((g) => g.id === revokedId && g.state === 'revoked');
    const rebound = typeof ctx.query.binding === 'string' ? ctx.query.binding : '';
    const justRebound = grants.find((g) => g.id === rebound);
    await ctx.render('grants', {
      pageTitle: 'Grants',
      ...common(signed.id, signed.session),
      grants: grants.map(grantRow),
      justRevoked: justRevoked ? grantRow(justRevoked) : null,
      justRebound: justRebound ? grantRow(justRebound) : null,
    });
  });

  router.get('grants-signin', '/grants/signin', async (ctx) => {
    await deps.limiter.hit(
      {
        name: 'start',
        limit: config.rateLimit.starts,
        windowSeconds: config.rateLimit.windowSeconds,
        what: 'sign-ins',
      },
      ctx.ip,
    );
    const browserId = ensureBrowserId(ctx, config);
    ctx.redirect(
      await startAuthorization(deps, { kind: 'console', scopes: CONSOLE_SCOPES, browserId }),
    );
  });

  const manageable = async (viewer: Viewer, id: string): Promise<GrantView> => {
    const grant = await getGrant(deps, id);
    if (!grant || !mayManage(config, viewer, grant)) throw notYours();
    return grant;
  };

  /**
   * For a confirmation page: the signed-in admin and the active grant they may manage, or null
   * after sending the browser back to the console (signed out, or the grant no longer active).
   */
  const confirmable = async (ctx: Koa.Context) => {
    ctx.set('Cache-Control', 'no-store');
    const signed = await session(ctx);
    const grant = signed && (await manageable(signed.session.viewer, ctx.params.id ?? ''));
    if (!signed || !grant || grant.state !== 'active') {
      ctx.redirect('/grants');
      return null;
    }
    return { signed, grant };
  };

  router.get('grants-revoke-confirm', '/grants/:id/revoke', async (ctx) => {
    const found = await confirmable(ctx);
    if (!found) return;
    const { signed, grant } = found;
    await ctx.render('grants-revoke', {
      pageTitle: 'Revoke this grant?',
      ...common(signed.id, signed.session),
      grant: grantRow(grant),
    });
  });

  router.post('grants-revoke', '/grants/:id/revoke', async (ctx) => {
    const body = formBody(ctx);
    const sessionId = readSessionId(ctx, config);
    checkConsoleCsrf(deps, sessionId, single(body, 'csrf'));
    const signed = await session(ctx);
    if (!signed) throw signedOut('Your console session ended, so nothing was revoked.');
    const id = ctx.params.id ?? '';
    const result = await revokeGrantAs(deps, signed.session.viewer, id, ctx.ip);
    if (result.outcome === 'not_found' || result.outcome === 'forbidden') throw notYours();
    ctx.status = 303;
    ctx.redirect(`/grants?revoked=${encodeURIComponent(id)}`);
  });

  router.get('grants-binding-confirm', '/grants/:id/binding', async (ctx) => {
    const found = await confirmable(ctx);
    if (!found) return;
    const { signed, grant } = found;
    const binding = grant.requester.workload;
    if (!binding) {
      ctx.redirect('/grants');
      return;
    }
    await ctx.render('grants-binding', {
      pageTitle: "Change this grant's CI binding?",
      ...common(signed.id, signed.session),
      grant: grantRow(grant),
      choices: bindingChoices(binding),
    });
  });

  router.post('grants-binding', '/grants/:id/binding', async (ctx) => {
    const body = formBody(ctx);
    checkConsoleCsrf(deps, readSessionId(ctx, config), single(body, 'csrf'));
    const signed = await session(ctx);
    if (!signed) throw signedOut('Your console session ended, so the binding was not changed.');
    const id = ctx.params.id ?? '';
    const change = single(body, 'change');
    if (!isBindingChange(change)) throw bindingRefused();
    const result = await changeBindingAs(deps, signed.session.viewer, id, change, ctx.ip);
    if (result.outcome === 'not_found' || result.outcome === 'forbidden') throw notYours();
    if (result.outcome === 'not_allowed') throw bindingRefused();
    ctx.status = 303;
    ctx.redirect(`/grants?binding=${encodeURIComponent(id)}`);
  });

  router.post('grants-signout', '/grants/signout', async (ctx) => {
    const body = formBody(ctx);
    const sessionId = readSessionId(ctx, config);
    checkConsoleCsrf(deps, sessionId, single(body, 'csrf'));
    await closeConsoleSession(deps, sessionId);
    setConsoleCookie(ctx, config, null);
    ctx.status = 303;
    ctx.redirect('/grants');
  });

  return router;
}
