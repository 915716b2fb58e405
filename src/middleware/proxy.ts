/**
 * What the trusted ingress tells us, checked: the client's address (only a valid IP, else the
 * socket peer) and whether the request reached the ingress over HTTPS (with an https PUBLIC_URL,
 * plain http is redirected for pages and refused for machine endpoints).
 */
import net from 'node:net';
import type Koa from 'koa';
import type { AppConfig } from '../config';
import { HttpError, invalidRequest } from '../errors';

/**
 * With TRUST_PROXY, the address the ingress appended to X-Forwarded-For becomes ctx.ip only
 * when it is a valid IP: anything else (a port suffix, a name, markup) falls back to the
 * socket peer, so pages, logs and rate-limit keys never carry made-up text.
 */
export function clientAddress(config: Pick<AppConfig, 'trustProxy'>): Koa.Middleware {
  // Plain functions, like the other pass-through layers: no promise of their own per request.
  if (!config.trustProxy) return (_ctx, next) => next();
  return function validAddress(ctx, next) {
    const forwarded = ctx.request.ips[0];
    ctx.request.ip =
      forwarded && net.isIP(forwarded) ? forwarded : (ctx.req.socket.remoteAddress ?? '');
    return next();
  };
}

/** Kubelet probes and in-cluster scrapers reach the pod directly, without the ingress headers. */
const PROBE_PATH = /^\/(healthz|readyz|metrics)$/;
/** Endpoints for scripts: they get an RFC 6749 error, never a redirect to follow. */
const MACHINE_PATH = /^\/(oauth2\/|\.well-known\/)/;

/**
 * With an https PUBLIC_URL behind a trusted proxy, a request that reached the ingress over
 * plain http (X-Forwarded-Proto other than https, or none) is redirected to the https URL
 * (page GETs) or refused (forms and machine endpoints: what they carried has already crossed
 * the network in clear, and silently accepting it would hide a misconfigured client).
 */
export function httpsOnly(
  config: Pick<AppConfig, 'secure' | 'trustProxy' | 'publicUrl'>,
): Koa.Middleware {
  if (!config.secure || !config.trustProxy) return (_ctx, next) => next();
  return function requireHttps(ctx, next) {
    if (ctx.protocol === 'https' || PROBE_PATH.test(ctx.path)) return next();
    if (MACHINE_PATH.test(ctx.path)) {
      throw invalidRequest(
        `This endpoint is served over HTTPS only, and the request arrived over plain http. Use ${config.publicUrl} (see the server metadata); credentials sent over http should be considered exposed.`,
      );
    }
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      ctx.status = 308;
      ctx.redirect(`${config.publicUrl}${ctx.originalUrl}`);
      return undefined;
    }
    throw new HttpError(
      400,
      'https_required',
      'This form was sent over plain http, so it was not accepted: this service works over HTTPS only.',
      {
        title: 'HTTPS required',
        hint: `Open ${config.publicUrl} (with https://) and submit the form again from there.`,
      },
    );
  };
}
