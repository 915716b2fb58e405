import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';
import type Koa from 'koa';
import type { AppConfig } from '../config';

/** The helmet options: a CSP that only allows this origin, and the rest of helmet's defaults. */
function helmetOptions(config: AppConfig): Readonly<HelmetOptions> {
  // Forms may also go to the Webex authorize endpoint, since Approve and Start redirect there.
  const authorizeOrigin = new URL(config.webex.authorizeUrl).origin;
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'"],
        'form-action': ["'self'", authorizeOrigin],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
        'object-src': ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: config.secure ? { maxAge: 31536000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
    xFrameOptions: { action: 'deny' },
  };
}

/**
 * The headers helmet sets for these options, computed once. None of them depends on the request
 * (no nonces), and running helmet's dozen middleware functions on every request was a visible
 * share of a pending poll's CPU (docs/BENCHMARKS.md).
 */
function helmetHeaders(options: Readonly<HelmetOptions>): ReadonlyArray<[string, string]> {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.set(name, String(value));
    },
    removeHeader(name: string) {
      headers.delete(name);
    },
  };
  let finished = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
    finished = true;
  });
  // helmet is synchronous today; if that ever changes, fail at startup rather than serve
  // responses without the headers.
  if (!finished) throw new Error('helmet did not finish synchronously');
  return [...headers];
}

/**
 * Headers for every response: helmet's set (CSP, no framing, no referrer, no sniffing, HSTS when
 * served over HTTPS), and no caching of anything dynamic.
 */
export function securityHeaders(config: AppConfig): Koa.Middleware {
  const headers = helmetHeaders(helmetOptions(config));
  // Not async: it only passes the request on, and an async wrapper would add a promise and a
  // microtask to every request (the same holds for the other pass-through middleware).
  return function setSecurityHeaders(ctx, next) {
    const res = ctx.res;
    for (const [name, value] of headers) res.setHeader(name, value);
    if (!ctx.path.startsWith('/static/')) {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Pragma', 'no-cache');
    }
    return next();
  };
}
