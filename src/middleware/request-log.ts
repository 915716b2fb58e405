import type Koa from 'koa';
import { redactUrl, type Logger } from '../logger';
import type { Metrics } from '../metrics';

/** The only fields a request line carries; each is safe by construction (the URL is redacted). */
export interface RequestLine {
  method: string;
  url: string;
  status: number;
  ms: number;
  ip: string;
}

const UNLOGGED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
const DEBUG_LINE = Symbol('request line at debug');

/**
 * Log this request's line at debug instead of info: for answers a polling script gets many
 * times a minute while nothing happens (authorization_pending, slow_down). Hundreds of CI jobs
 * polling would otherwise fill the logs with lines that carry no news; what does happen
 * (handoff created, approved, denied, delivered, expired) is logged as its own event.
 */
export function logAtDebug(ctx: Koa.Context): void {
  (ctx.state as Record<symbol, boolean>)[DEBUG_LINE] = true;
}

/**
 * One log line and one histogram sample per request.
 *
 * The line goes through a child logger without pino's redaction paths: its five fields are
 * built here from values that cannot hold a secret (the query string goes through
 * redactUrl), and path redaction was the largest single cost of a pending poll
 * (docs/BENCHMARKS.md). Anything else, including errors, is logged with redaction on.
 */
export function requestLog(deps: { logger: Logger; metrics: Metrics }): Koa.Middleware {
  const lines = deps.logger.child({}, { redact: [] });
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
      const level = (ctx.state as Record<symbol, boolean>)[DEBUG_LINE] ? 'debug' : 'info';
      if (lines.isLevelEnabled(level) && !UNLOGGED_PATHS.has(ctx.path)) {
        const line: RequestLine = {
          method: ctx.method,
          url: redactUrl(ctx.url),
          status: ctx.status,
          ms: Math.round(seconds * 1000),
          ip: ctx.ip,
        };
        lines[level](line, 'request');
      }
    }
  };
}
