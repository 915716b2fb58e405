import type Koa from 'koa';
import type { AppConfig } from '../config';

/**
 * Sends a browser that reached a page on another address than PUBLIC_URL (127.0.0.1 for
 * localhost, a second DNS name, the pod's IP) to the same path and query on PUBLIC_URL, before
 * any flow starts. The sign-in cookie is set for the host the browser used; Webex redirects back
 * to REDIRECT_URI on PUBLIC_URL's host, where that cookie would be missing and the sign-in
 * could not finish.
 *
 * Only GET and HEAD of the HTML pages (and the callback, which needs the cookie most) are
 * redirected: scripts' endpoints, metadata, health checks and metrics answer on any host, so
 * probes and in-cluster clients keep working.
 *
 * Which host the browser used: the Host header, or behind a trusted proxy (TRUST_PROXY) the
 * X-Forwarded-Host it sets. A trusted proxy that sends no X-Forwarded-Host may have rewritten
 * Host to an internal name, so then nothing is redirected: a redirect there could loop.
 */
export function canonicalHost(config: AppConfig, pagePaths: readonly string[]): Koa.Middleware {
  const publicUrl = new URL(config.publicUrl);
  const origin = publicUrl.origin;
  const pages = new Set(pagePaths);
  return function redirectToPublicHost(ctx, next) {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !pages.has(ctx.path)) return next();
    const seen = browserHost(ctx, config.trustProxy);
    if (seen === undefined || sameHost(seen, publicUrl)) return next();
    ctx.status = 302;
    ctx.set('Location', origin + ctx.url);
    ctx.body = `This service's address is ${origin}.`;
    return undefined;
  };
}

function browserHost(ctx: Koa.Context, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = ctx.get('x-forwarded-host');
    // The last value is the one our own proxy appended.
    return forwarded ? forwarded.split(',').pop()!.trim() : undefined;
  }
  return ctx.get('host') || undefined;
}

/** Host and port compared as URLs compare them: case-insensitive, default ports implied. */
function sameHost(seen: string, publicUrl: URL): boolean {
  try {
    return new URL(`${publicUrl.protocol}//${seen}`).host === publicUrl.host;
  } catch {
    // Not a host at all: nothing sensible to redirect from; the request goes on as it is.
    return true;
  }
}
