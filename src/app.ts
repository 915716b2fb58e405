/**
 * Builds the Koa app from explicit dependencies. It never listens: src/service.ts wires the
 * dependencies and listens.
 */
import path from 'node:path';
import Koa from 'koa';
import { type CliDownloadSource, defaultCliDownloadSource } from './cli-download';
import type { FlowDeps } from './flows/context';
import type { HandoffWaiters } from './flows/device';
import { errorHandler } from './middleware/error-handler';
import { canonicalHost } from './middleware/canonical-host';
import { compressDynamic } from './middleware/compress';
import { readFormBodies } from './middleware/form-body';
import { clientAddress, httpsOnly } from './middleware/proxy';
import { requestLog } from './middleware/request-log';
import { securityHeaders } from './middleware/security-headers';
import { staticAssets } from './middleware/static-files';
import { cliRouter } from './routes/cli';
import { deviceRouter } from './routes/device';
import { deviceAuthorizationRouter } from './routes/device-authorization';
import { grantsRouter } from './routes/grants';
import { healthRouter, metricsRouter } from './routes/health';
import { metadataRouter } from './routes/metadata';
import { oauthRouter } from './routes/oauth';
import { pagesRouter } from './routes/pages';
import { tokenRouter } from './routes/token';
import type { Sandbox } from './sandbox/sandbox';
import { pageCache } from './views/page-cache';
import { renderViews, viewRenderer, viewSettings } from './views/views';

export interface AppDeps extends FlowDeps {
  /** Waiting polls; the service releases them at shutdown. */
  waiters: HandoffWaiters;
  /** The one-file CLI served at /cli/webex-token.js (default: the build's, or built from source). */
  cliDownload?: CliDownloadSource | undefined;
  /** The simulated Webex, mounted under /sandbox/v1 when given. */
  sandbox?: Sandbox | undefined;
  /** How form bodies are read (default: readFormBodies); the bench's A/B swaps it. */
  readFormBodies?: ((limitBytes: number) => Koa.Middleware) | undefined;
}

export function createApp(deps: AppDeps): Koa {
  const { config, logger, metrics } = deps;
  const app = new Koa();
  app.proxy = config.trustProxy;
  // Behind a trusted ingress, believe only the address it appended to X-Forwarded-For: the
  // hops before it are whatever the client sent, and would let it choose its rate-limit key.
  app.maxIpsCount = config.trustProxy ? 1 : 0;
  app.silent = true;

  const { waiters, sandbox, cliDownload: given, readFormBodies: formReader, ...flowDeps } = deps;
  const cliDownload = given ?? defaultCliDownloadSource(logger);
  const flow: FlowDeps & { cliDownload: CliDownloadSource } = {
    ...flowDeps,
    cliDownload,
  };

  const readForm = (formReader ?? readFormBodies)(config.bodyLimitBytes);
  // Scripts poll the token endpoint far more often than anything else is requested, so its
  // router comes right after the shared layers and reads its own form bodies.
  const token = tokenRouter({ ...flow, waiters, readForm });
  const deviceAuthorization = deviceAuthorizationRouter({ ...flow, readForm });

  const assets = staticAssets(path.join(__dirname, 'public'));
  const views = viewSettings(
    { env: config.env, sandbox: config.sandbox || Boolean(deps.sandbox) },
    assets.url,
  );
  // One cache per app: a page depends on this app's configuration only.
  const pages = pageCache(viewRenderer(views), { keep: views.cache });

  app.use(clientAddress(config));
  app.use(requestLog({ logger, metrics }));
  app.use(securityHeaders(config));
  app.use(renderViews(views));
  app.use(errorHandler({ logger, metrics, pages }));
  app.use(httpsOnly(config));
  // The callback too, when Webex sends the browser back to PUBLIC_URL's own origin (as usual).
  const callback = new URL(config.redirectUri);
  const samePlace = callback.origin === new URL(config.publicUrl).origin;
  app.use(
    canonicalHost(config, [
      '/',
      '/start',
      '/device',
      '/grants',
      '/grants/signin',
      ...(samePlace ? [callback.pathname] : []),
    ]),
  );
  app.use(token.routes()).use(token.allowedMethods());
  // After the token router: polls, by far the most frequent request, never pass through it.
  app.use(deviceAuthorization.routes());
  app.use(assets.middleware);
  // After the token endpoint and the static files: polls never pass through it, and static
  // files are precompressed.
  app.use(compressDynamic());
  app.use(readForm);

  const routers = [
    healthRouter({ store: deps.store }),
    // Never on the public port in production (config refuses METRICS_PORT=0 there, too).
    ...(config.metricsPort === 0 && config.env !== 'production' ? [metricsRouter(metrics)] : []),
    metadataRouter(config, cliDownload),
    cliRouter(cliDownload),
    pagesRouter({ ...flow, pages }),
    oauthRouter(flow),
    deviceRouter(flow),
    grantsRouter(flow),
  ];
  if (sandbox) routers.push(sandbox.router());
  for (const router of routers) app.use(router.routes()).use(router.allowedMethods());

  app.on('error', (err: Error) => {
    logger.error({ err: { type: err.name, message: err.message } }, 'unhandled app error');
  });
  return app;
}
