import type Koa from 'koa';
import helmet from 'koa-helmet';
import type { AppConfig } from '../config';

/**
 * Headers for every response: a CSP that only allows this origin (forms may also go to the
 * Webex authorize endpoint, since Approve and Start redirect there), no framing, no referrer,
 * no sniffing, HSTS when served over HTTPS, and no caching of anything dynamic.
 */
export function securityHeaders(config: AppConfig): Koa.Middleware[] {
  const authorizeOrigin = new URL(config.webex.authorizeUrl).origin;
  const formAction = ["'self'", authorizeOrigin];
  return [
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          'img-src': ["'self'", 'data:'],
          'font-src': ["'self'"],
          'connect-src': ["'self'"],
          'form-action': formAction,
          'frame-ancestors': ["'none'"],
          'base-uri': ["'none'"],
          'object-src': ["'none'"],
        },
      },
      referrerPolicy: { policy: 'no-referrer' },
      strictTransportSecurity: config.secure
        ? { maxAge: 31536000, includeSubDomains: true }
        : false,
      crossOriginEmbedderPolicy: false,
      xFrameOptions: { action: 'deny' },
    }),
    async function noStore(ctx, next) {
      await next();
      if (!ctx.path.startsWith('/static/')) {
        ctx.set('Cache-Control', 'no-store');
        ctx.set('Pragma', 'no-cache');
      }
    },
  ];
}
