import net from 'node:net';
import Router from '@koa/router';
import type Koa from 'koa';
import { formatUserCode, normalizeUserCode } from '../crypto';
import { HttpError } from '../errors';
import { startAuthorization } from '../flows/browser';
import type { FlowDeps } from '../flows/context';
import {
  type HandoffWorkload,
  type WatchState,
  chosenWidth,
  denyHandoff,
  findPendingHandoff,
  getPendingHandoff,
  handoffState,
  widthChoices,
} from '../flows/device';
import { WORKLOAD_FACT_CLAIMS } from '../workload/verify';
import { ensureBrowserId, readBrowserId } from '../middleware/browser-id';
import { checkCsrf, csrfTokenFor } from '../middleware/csrf';
import { claimedUserAgent, utc } from '../views/format';
import { describeScope, identityScopeFor } from '../webex/scopes';
import { formBody, single } from './params';

/** The verification pages an admin uses to approve or deny a script's request. */
export function deviceRouter(deps: FlowDeps): Router {
  const { config } = deps;
  const router = new Router();

  const enterPage = (
    ctx: Koa.Context,
    browserId: string,
    userCode: string,
    problem: string | null,
  ) =>
    ctx.render('device-enter', {
      pageTitle: 'Approve a script',
      csrf: csrfTokenFor(deps, browserId),
      userCode,
      problem,
    });

  router.get('verification', '/device', async (ctx) => {
    const browserId = ensureBrowserId(ctx, config);
    const typed = typeof ctx.query.user_code === 'string' ? ctx.query.user_code : '';
    const code = normalizeUserCode(typed);
    await enterPage(ctx, browserId, code ? formatUserCode(code) : '', null);
  });

  router.post('verification-submit', '/device', async (ctx) => {
    const body = formBody(ctx);
    const browserId = readBrowserId(ctx, config);
    checkCsrf(deps, browserId, single(body, 'csrf'));
    const typed = (single(body, 'user_code') ?? '').slice(0, 64);
    const found = await findPendingHandoff(deps, typed, { address: ctx.ip, browserId: browserId! });
    if (!found) {
      ctx.status = 400;
      // Keep what was typed, so that one wrong letter is corrected rather than typed again.
      await enterPage(
        ctx,
        browserId!,
        typed.trim().slice(0, 32),
        'That code is not valid: it may be mistyped, expired, or already used. Check the code the script shows and try again.',
      );
      return;
    }
    const { record } = found;
    const client = config.device.clients.find((c) => c.id === record.clientId);
    await ctx.render('device-approve', {
      pageTitle: 'Approve this request?',
      csrf: csrfTokenFor(deps, browserId!),
      handoff: found.handoffId,
      userCode: formatUserCode(normalizeUserCode(typed)!),
      clientName: record.clientName,
      clientDescription: client?.description ?? null,
      // Only a valid IP is shown as the requester's address (records predating the check, too).
      requester: {
        address: shownAddress(record.requester.address),
        userAgent: claimedUserAgent(record.requester.userAgent),
      },
      createdIso: new Date(record.createdAt).toISOString(),
      createdUtc: utc(record.createdAt),
      expiresIso: new Date(record.expiresAt).toISOString(),
      expiresUtc: utc(record.expiresAt),
      scopes: record.scopes.map(describeScope),
      identityScope: identityScopeFor(config.identityScope, record.scopes),
      workload: record.workload ? verifiedJob(record.workload) : null,
    });
  });

  const pendingFrom = async (body: Record<string, unknown>) => {
    const handoff = single(body, 'handoff') ?? '';
    const pending = /^[A-Za-z0-9_-]{43}$/.test(handoff)
      ? await getPendingHandoff(deps, handoff)
      : null;
    if (!pending) {
      throw new HttpError(
        410,
        'expired_token',
        'This request is no longer waiting for approval: it expired, or someone already approved or denied it.',
        {
          title: 'Request no longer waiting',
          hint: 'If the script still needs tokens, ask it to start a new request and enter the new code.',
        },
      );
    }
    return pending;
  };

  router.post('approve', '/device/approve', async (ctx) => {
    const body = formBody(ctx);
    const browserId = readBrowserId(ctx, config);
    checkCsrf(deps, browserId, single(body, 'csrf'));
    const pending = await pendingFrom(body);
    const width = chosenWidth(pending.record.workload, single(body, 'width'));
    ctx.redirect(
      await startAuthorization(deps, {
        kind: 'device',
        scopes: pending.record.scopes,
        browserId: browserId!,
        handoff: pending.handoffId,
        width,
      }),
    );
  });

  router.post('deny', '/device/deny', async (ctx) => {
    const body = formBody(ctx);
    checkCsrf(deps, readBrowserId(ctx, config), single(body, 'csrf'));
    const pending = await pendingFrom(body);
    await denyHandoff(deps, pending, 'declined');
    await ctx.render('device-done', {
      pageTitle: 'Request denied',
      approved: false,
      clientName: pending.record.clientName,
    });
  });

  // Polled by app.js on the page shown after approval; the id is known only to that page.
  router.get('handoff-status', '/device/status/:watch', async (ctx) => {
    const watch = ctx.params.watch ?? '';
    const state = /^[A-Za-z0-9_-]{43}$/.test(watch) ? await handoffState(deps, watch) : null;
    ctx.status = state ? 200 : 404;
    ctx.body = state
      ? { state, message: STATE_TEXT[state] }
      : { state: 'unknown', message: 'This request is no longer known to the service.' };
  });

  return router;
}

/** What the approval page shows of a verified CI job: signed facts only, and the choices. */
function verifiedJob(workload: HandoffWorkload) {
  return {
    issuerName: workload.issuerName,
    issuer: workload.issuer,
    sub: workload.sub,
    facts: WORKLOAD_FACT_CLAIMS.filter((claim) => workload.facts[claim] !== undefined).map(
      (claim) => ({ claim, value: workload.facts[claim]! }),
    ),
    widths: widthChoices(workload),
  };
}

function shownAddress(address: string): string {
  return net.isIP(address) ? address : 'unknown';
}

/** What the page after approval says in each state (the first one is also in the template). */
const STATE_TEXT: Record<WatchState, string> = {
  approved:
    'Approved; waiting for the script to pick the tokens up. It receives them on its next poll; you never see them here, and they are gone from this service once delivered.',
  delivered: 'Delivered: the script picked the tokens up. They are no longer held by this service.',
  expired:
    'Never picked up: the request expired before the script collected the tokens, so they were discarded. If it still needs them, run it again.',
  cancelled:
    'The script gave up before picking the tokens up (it timed out or was stopped), so they were discarded. If it still needs them, run it again.',
};
