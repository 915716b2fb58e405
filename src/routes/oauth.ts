import Router from '@koa/router';
import { HttpError } from '../errors';
import { completeAuthorization } from '../flows/browser';
import type { FlowDeps } from '../flows/context';
import {
  approveHandoff,
  denyHandoff,
  getPendingHandoff,
  type HandoffRecord,
} from '../flows/device';
import { openConsoleSession } from '../flows/grants/console';
import { readBrowserId } from '../middleware/browser-id';
import { lifetime } from '../views/format';
import { setConsoleCookie } from './grants';

/** The Webex redirect (REDIRECT_URI) for every flow. */
export function oauthRouter(deps: FlowDeps): Router {
  const router = new Router();
  const callbackPath = new URL(deps.config.redirectUri).pathname;

  router.get('callback', callbackPath, async (ctx) => {
    const q = ctx.query;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const result = await completeAuthorization(deps, {
      state: str(q.state),
      code: str(q.code),
      error: str(q.error),
      errorDescription: str(q.error_description),
      browserId: readBrowserId(ctx, deps.config),
      used: q.used === '1',
    });

    if (result.kind === 'console') {
      const { id } = await openConsoleSession(deps, result.person, ctx.ip);
      setConsoleCookie(ctx, deps.config, id);
      ctx.status = 303;
      ctx.redirect('/grants');
      return;
    }

    if (result.kind === 'browser') {
      const { tokens, person, granted } = result;
      const now = deps.now();
      await ctx.render('tokens', {
        pageTitle: 'Your tokens',
        tokens,
        person,
        scopes: granted.scopes,
        scopesFromWebex: granted.fromWebex,
        identityScope: granted.identity,
        access: lifetime(tokens.expires_in, now),
        refresh: lifetime(tokens.refresh_token_expires_in, now),
        curl: `curl -H "Authorization: Bearer ${tokens.access_token}" ${deps.config.webex.apiUrl}/people/me`,
      });
      return;
    }

    const pending = await getPendingHandoff(deps, result.handoff);
    if (!pending) {
      throw new HttpError(
        410,
        'expired_token',
        "The script's request expired or was already answered while you were signing in, so the tokens were discarded.",
        {
          title: 'Request no longer waiting',
          hint: 'Ask the script to start a new request, then approve it within its time limit.',
        },
      );
    }
    if (result.error || !result.tokens) {
      const reason: NonNullable<HandoffRecord['denyReason']> =
        result.error?.code === 'invalid_scope'
          ? 'invalid_scope'
          : result.error?.code === 'org_not_allowed'
            ? 'org_not_allowed'
            : 'access_denied';
      await denyHandoff(deps, pending, reason, result.person);
      throw result.error ?? new HttpError(502, 'webex_error', 'Webex did not return tokens.');
    }
    const { watchId } = await approveHandoff(
      deps,
      pending,
      result.tokens,
      result.person,
      result.width,
    );
    await ctx.render('device-done', {
      pageTitle: 'Request approved',
      approved: true,
      clientName: pending.record.clientName,
      approver: result.person?.emails?.[0] ?? null,
      statusUrl: `/device/status/${watchId}`,
    });
  });

  return router;
}
