import type Koa from 'koa';
import { SealError } from '../crypto';
import { HttpError, OAuthError, invalidGrant, methodNotAllowed, notFound } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { PageCache } from '../views/page-cache';
import { sendRepresentation } from './precompressed';
import { logAtDebug } from './request-log';

/** Paths answered as JSON whatever the Accept header says: scripts live here. */
const MACHINE_PATH = /^\/(oauth2\/|\.well-known\/|healthz|readyz|metrics)/;

/**
 * The one place errors become responses: JSON (RFC 6749 §5.2 shape) for scripts, an
 * explanatory page for browsers. 5xx internals are logged, never shown.
 */
export function errorHandler(deps: {
  logger: Logger;
  metrics: Metrics;
  /** Keeps the 404 pages (fixed texts, nothing from the request) rendered and compressed. */
  pages?: PageCache;
}): Koa.Middleware {
  return async function handleErrors(ctx, next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw notFound();
      // The router's 405 has no body: give scripts JSON and browsers a page, like any error.
      if (ctx.status === 405 && ctx.body === undefined)
        throw methodNotAllowed(ctx.method, ctx.response.get('Allow'));
    } catch (caught) {
      const err =
        caught instanceof SealError
          ? sealedValueRejected(ctx, caught, deps.logger)
          : toHttpError(caught);
      if (err.status >= 500) {
        deps.logger.error({ err: describe(caught), path: ctx.path }, 'request failed');
      }
      if (err.routine) logAtDebug(ctx);
      ctx.status = err.status;
      for (const [k, v] of Object.entries(err.headers)) ctx.set(k, v);
      ctx.set('Cache-Control', 'no-store');
      const message = err.expose
        ? err.message
        : 'An unexpected error happened. It has been logged.';
      const wantsJson = MACHINE_PATH.test(ctx.path) || ctx.accepts('html', 'json') === 'json';
      if (err instanceof OAuthError && ctx.path.startsWith('/oauth2/')) {
        deps.metrics.tokenEndpointErrors.inc({ error: err.code });
      }
      if (wantsJson) {
        ctx.body = { error: err.code, error_description: message };
      } else {
        const locals = {
          pageTitle: err.title,
          title: err.title,
          message,
          hint: err.expose
            ? err.hint
            : 'Try again in a moment. If it keeps happening, tell the operators the time it happened.',
          details: err.expose ? err.details : [],
          code: err.code,
        };
        // A 404's texts are fixed by the code that threw it (nothing from the request).
        if (deps.pages && err.status === 404 && locals.details.length === 0) {
          const page = await deps.pages.get(`error:${JSON.stringify(locals)}`, 'error', locals);
          sendRepresentation(ctx, page, 'no-cache', err.status);
        } else {
          await ctx.render('error', locals);
        }
      }
    }
  };
}

/**
 * A sealed value in the store failed authentication (tampered, truncated, or sealed with a key
 * no longer configured). Fail closed: the value was already taken out of the store (results
 * and sign-in records are read with an atomic take), so the grant is gone for good. Scripts get
 * RFC 8628 `invalid_grant`, which tells them to stop polling and start over (a 5xx would make
 * them retry something that can never succeed); browsers get a "start again" page. Operators
 * get a warning without any value, since it means Redis was tampered with or a key was dropped.
 */
function sealedValueRejected(ctx: Koa.Context, err: SealError, logger: Logger): HttpError {
  logger.warn(
    { event: 'sealed_value_rejected', reason: err.message, path: ctx.path },
    'a sealed value in the store failed authentication; refused and discarded',
  );
  if (ctx.path.startsWith('/oauth2/')) {
    return invalidGrant(
      'The stored result for this device_code could not be verified, so it was discarded. Start a new device authorization.',
    );
  }
  return new HttpError(
    400,
    'sealed_value_rejected',
    'The sign-in details kept for this request could not be verified, so they were discarded.',
    {
      title: 'This sign-in cannot be finished',
      hint: 'Start again from the home page. If it keeps happening, tell the operators the time it happened.',
    },
  );
}

/**
 * Anything thrown becomes an HttpError; unknown errors are 500 and not exposed. Koa's own 4xx
 * errors (ctx.throw, a malformed URL) carry a status and are safe to answer as bad requests.
 */
function toHttpError(caught: unknown): HttpError {
  if (caught instanceof HttpError) return caught;
  const e = caught as { status?: number; statusCode?: number } | undefined;
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpError(
      status,
      'invalid_request',
      'The request could not be read (malformed body or parameters).',
      { hint: 'Check the request format against the documentation.' },
    );
  }
  return new HttpError(500, 'server_error', 'Internal error', { expose: false, cause: caught });
}

function describe(err: unknown): { type: string; message: string; stack?: string } {
  if (err instanceof Error) {
    const cause =
      err.cause instanceof Error ? ` (cause: ${err.cause.name}: ${err.cause.message})` : '';
    return { type: err.name, message: err.message + cause, stack: err.stack };
  }
  return { type: typeof err, message: 'non-error thrown' };
}
