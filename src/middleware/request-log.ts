import type Koa from 'koa';
import { redactUrl, type Logger } from '../logger';
import type { Metrics } from '../metrics';

/** One log line and one histogram sample per request; URLs are logged with secrets redacted. */
export function requestLog(deps: { logger: Logger; metrics: Metrics }): Koa.Middleware {
  return async function logRequest(ctx, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      deps.metrics.httpDuration.observe(
        { method: ctx.method, route: String(route), status: String(ctx.status) },
        seconds,
      );
      if (ctx.path !== '/healthz' && ctx.path !== '/readyz' && ctx.path !== '/metrics') {
        deps.logger.info(
          {
            method: ctx.method,
            url: redactUrl(ctx.url),
            status: ctx.status,
            ms: Math.round(seconds * 1000),
            ip: ctx.ip,
          },
          'request',
        );
      }
    }
  };
}
