/**
 * Builds the Koa app from explicit dependencies. It never listens: main.ts does, and tests
 * use app.callback() or their own server.
 */
import path from 'node:path';
import Koa from 'koa';
import type { AppConfig } from './config';
import type { Sealer } from './crypto';
import type { FlowDeps } from './flows/context';
import { HandoffWaiters } from './flows/device';
import { RateLimiter } from './flows/rate-limit';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { errorHandler } from './middleware/error-handler';
import { formBody } from './middleware/form-body';
import { requestLog } from './middleware/request-log';
import { securityHeaders } from './middleware/security-headers';
import { staticFiles } from './middleware/static-files';
import { deviceRouter } from './routes/device';
import { healthRouter, metricsRouter } from './routes/health';
import { metadataRouter } from './routes/metadata';
import { oauthRouter } from './routes/oauth';
import { pagesRouter } from './routes/pages';
import { tokenRouter } from './routes/token';
import type { Sandbox } from './sandbox/sandbox';
import type { Store } from './store/store';
import { renderViews, viewSettings } from './views/views';
import type { WebexClient } from './webex/client';

export interface AppDeps {
  config: AppConfig;
  logger: Logger;
  store: Store;
  sealer: Sealer;
  webex: WebexClient;
  metrics: Metrics;
  /** Waiting polls; main.ts releases them at shutdown. */
  waiters?: HandoffWaiters;
  /** The simulated Webex, mounted under /sandbox/v1 when given. */
  sandbox?: Sandbox;
  now?: () => number;
}

export function createApp(deps: AppDeps): Koa {
  const { config, logger, metrics } = deps;
  const app = new Koa();
  app.proxy = config.trustProxy;
  // Behind a trusted ingress, believe only the address it appended to X-Forwarded-For: the
  // hops before it are whatever the client sent, and would let it choose its rate-limit key.
  app.maxIpsCount = config.trustProxy ? 1 : 0;
  app.silent = true;

  const flow: FlowDeps = {
    config,
    store: deps.store,
    sealer: deps.sealer,
    webex: deps.webex,
    logger,
    metrics,
    limiter: new RateLimiter(deps.store, metrics),
    now: deps.now ?? Date.now,
  };
  const waiters = deps.waiters ?? new HandoffWaiters({ store: deps.store });

  const readForm = formBody(config.bodyLimitBytes);
  // Scripts poll the token endpoint far more often than anything else is requested, so its
  // router comes right after the shared layers and reads its own form bodies.
  const token = tokenRouter({ ...flow, waiters, readForm });

  app.use(requestLog({ logger, metrics }));
  app.use(securityHeaders(config));
  app.use(
    renderViews(
      viewSettings({ env: config.env, sandbox: config.sandbox || Boolean(deps.sandbox) }),
    ),
  );
  app.use(errorHandler({ logger, metrics }));
  app.use(token.routes()).use(token.allowedMethods());
  app.use(staticFiles(path.join(__dirname, 'public')));
  app.use(readForm);

  const routers = [
    healthRouter({ store: deps.store }),
    ...(config.metricsPort === 0 ? [metricsRouter(metrics)] : []),
    metadataRouter(config),
    pagesRouter(flow),
    oauthRouter(flow),
    deviceRouter(flow),
  ];
  if (deps.sandbox) routers.push(deps.sandbox.router());
  for (const router of routers) app.use(router.routes()).use(router.allowedMethods());

  app.on('error', (err: Error) => {
    logger.error({ err: { type: err.name, message: err.message } }, 'unhandled app error');
  });
  return app;
}
