/**
 * The only entry point: config → logger → store → app → listen. SIGTERM stops accepting,
 * answers waiting polls, lets in-flight requests finish within the grace period, closes the
 * store and exits 0.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import Koa from 'koa';
import { createApp } from './app';
import { ConfigError, loadConfig, type AppConfig } from './config';
import { Sealer } from './crypto';
import { HandoffWaiters } from './flows/device';
import { createLogger, type Logger } from './logger';
import { createMetrics } from './metrics';
import { Sandbox } from './sandbox/sandbox';
import { MemoryStore } from './store/memory';
import { RedisStore } from './store/redis';
import type { Store } from './store/store';
import { metricsRouter } from './routes/health';
import { webexClientFor } from './webex/client';

export interface RunningService {
  server: http.Server;
  config: AppConfig;
  store: Store;
  /** Graceful stop: the SIGTERM path, callable from tests. */
  shutdown: () => Promise<void>;
}

export async function startService(
  env: Record<string, string | undefined>,
  opts: { logger?: Logger } = {},
): Promise<RunningService> {
  const config = loadConfig(env);
  const logger =
    opts.logger ??
    createLogger({
      level: config.logLevel,
      pretty: config.env !== 'production' && Boolean(process.stdout.isTTY) && hasPrettyPrinter(),
    });

  let store: Store;
  let keys = config.encryptionKeys;
  if (config.redis) {
    const redis = new RedisStore({
      ...config.redis,
      onEvent: (event, detail) => {
        if (event === 'error')
          logger.warn({ event: 'redis_error', reason: detail }, 'Redis connection problem');
        else logger.info({ event: `redis_${event}` }, `Redis connection ${event}`);
      },
    });
    if (!(await redis.waitUntilReady(5000))) {
      logger.warn(
        'Redis is not reachable yet; /readyz will fail until it is. Requests that need it answer 503.',
      );
    }
    store = redis;
  } else {
    logger.warn(
      'REDIS_URL is not set: using the in-memory store. Fine for one local process; do not run replicas like this.',
    );
    store = new MemoryStore();
  }
  if (keys.length === 0) {
    // Only possible with the in-memory store: nothing sealed or hashed outlives this process.
    keys = [crypto.randomBytes(32)];
    logger.info(
      { event: 'ephemeral_key' },
      'TOKEN_ENCRYPTION_KEY is not set: sealing and keyed hashes use a random key made for this process.',
    );
  }

  const metrics = createMetrics();
  const webex = webexClientFor(config, metrics);
  const sandbox = config.sandbox
    ? new Sandbox({
        clientId: config.clientId,
        clientSecret: config.clientSecret,
        redirectUris: [config.redirectUri],
      })
    : undefined;
  if (sandbox) {
    logger.warn(
      { event: 'sandbox' },
      'SANDBOX MODE: Webex is simulated under /sandbox/v1; tokens are fake. Never use this in production.',
    );
  }
  const waiters = new HandoffWaiters({ store });
  const app = createApp({
    config,
    logger,
    store,
    sealer: new Sealer(keys),
    webex,
    metrics,
    waiters,
    sandbox,
  });

  const server = http.createServer(app.callback());
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const metricsServer = config.metricsPort ? await listenMetrics(config, metrics) : undefined;
  logger.info(
    {
      event: 'listening',
      url: config.publicUrl,
      port: config.port,
      scopesMode: config.scopesMode,
      store: config.redis ? 'redis' : 'memory',
    },
    `webex-scoped-tokens listening on ${config.publicUrl}`,
  );

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      logger.info(
        { event: 'shutdown', graceSeconds: config.shutdownGraceSeconds },
        'shutting down: no new connections',
      );
      metricsServer?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      waiters.releaseAll();
      const grace = new Promise<void>((resolve) =>
        setTimeout(resolve, config.shutdownGraceSeconds * 1000).unref(),
      );
      await Promise.race([closed, grace]);
      server.closeAllConnections();
      await store.close();
      logger.info({ event: 'stopped' }, 'stopped');
      // Log lines are written asynchronously: hand the last ones over before the process exits.
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
    })());

  return { server, config, store, shutdown };
}

/** A second listener that serves only /metrics, for scrapers inside the cluster. */
async function listenMetrics(
  config: AppConfig,
  metrics: ReturnType<typeof createMetrics>,
): Promise<http.Server> {
  const app = new Koa();
  const router = metricsRouter(metrics);
  app.use(router.routes()).use(router.allowedMethods());
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metricsPort, config.host, () => resolve());
  });
  return server;
}

function hasPrettyPrinter(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

if (require.main === module) {
  startService(process.env)
    .then((service) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          service.shutdown().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        });
      }
    })
    .catch((err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`Failed to start: ${(err as Error).message}\n`);
      process.exit(1);
    });
}
