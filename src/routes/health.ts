import Router from '@koa/router';
import type { Metrics } from '../metrics';
import type { Store } from '../store/store';

/** Liveness (no dependencies) and readiness (the store answers quickly). */
export function healthRouter(deps: { store: Store; readyTimeoutMs?: number }): Router {
  const router = new Router();
  const timeoutMs = deps.readyTimeoutMs ?? 1000;

  router.get('healthz', '/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('readyz', '/readyz', async (ctx) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('store ping timed out')), timeoutMs);
    });
    try {
      await Promise.race([deps.store.ping(), timeout]);
      ctx.body = { status: 'ready', store: 'ok' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'not ready', store: 'unreachable' };
    } finally {
      clearTimeout(timer);
    }
  });

  return router;
}

/** Prometheus text; on the main port, or on METRICS_PORT only (see main.ts). */
export function metricsRouter(metrics: Metrics): Router {
  const router = new Router();
  router.get('metrics', '/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
