/**
 * The composition root: the one place that turns a configuration into a running service.
 * buildService wires store, sealer, Webex client, metrics, waiters, sandbox and app;
 * startService is that plus listening and the graceful stop. main.ts (the process), the test
 * server helper and the bench all go through here, so they run the same wiring.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import Koa from 'koa';
import { createApp, type AppDeps } from './app';
import type { CliDownloadSource } from './cli-download';
import { loadConfig, type AppConfig } from './config';
import { Sealer } from './crypto';
import type { FlowDeps } from './flows/context';
import { createWorkloadVerifier } from './workload/verify';
import { HandoffWaiters } from './flows/device';
import { countActiveGrants } from './flows/grants';
import { RateLimiter } from './flows/rate-limit';
import { createLogger, type Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { metricsRouter } from './routes/health';
import { Sandbox } from './sandbox/sandbox';
import { MemoryStore } from './store/memory';
import { RedisStore } from './store/redis';
import type { Store } from './store/store';
import { webexClientFor } from './webex/client';
import { SCOPE_CATALOG } from './webex/scopes';

/** What a caller other than the process itself (tests, the bench) may swap out. */
export interface ServiceOverrides {
  logger?: Logger;
  /** The flows' clock. */
  now?: () => number;
  /**
   * The simulated Webex mounted under /sandbox/v1. Default: one when SANDBOX=true. `null`
   * mounts none (the tests run the sandbox as a separate upstream on its own port instead).
   */
  sandbox?: Sandbox | null;
  /** Node's process metrics (CPU, memory, GC); off where many services share one process. */
  defaultMetrics?: boolean;
  /** Per-command Redis timeout instead of the configured one. */
  redisCommandTimeoutMs?: number;
  /** How long to wait for Redis before going on without it (readiness then fails). */
  redisReadyMs?: number;
  /** What /cli/webex-token.js serves (default: the build's file, or built from source). */
  cliDownload?: CliDownloadSource;
  /**
   * The bench's A/B of the hand-written speedups (docs/BENCHMARKS.md): socket write batching
   * off, and another form-body reader. Never set in production.
   */
  redisBatchWrites?: boolean;
  readFormBodies?: AppDeps['readFormBodies'];
}

export interface Service {
  config: AppConfig;
  logger: Logger;
  store: Store;
  metrics: Metrics;
  waiters: HandoffWaiters;
  sandbox: Sandbox | undefined;
  /** What the flows run on; the bench uses it to act as a second replica. */
  flow: FlowDeps;
  app: Koa;
  /** Answers waiting polls and closes the store and the Webex client's connections. */
  close(): Promise<void>;
}

export async function buildService(
  config: AppConfig,
  overrides: ServiceOverrides = {},
): Promise<Service> {
  const logger = overrides.logger ?? defaultLogger(config);
  const store = await buildStore(config, logger, overrides);
  let keys = config.encryptionKeys;
  if (keys.length === 0) {
    // Only possible with the in-memory store: nothing sealed or hashed outlives this process.
    keys = [crypto.randomBytes(32)];
    logger.info(
      { event: 'ephemeral_key' },
      'TOKEN_ENCRYPTION_KEY is not set: sealing and keyed hashes use a random key made for this process.',
    );
  }
  const metrics = createMetrics({ defaultMetrics: overrides.defaultMetrics ?? true });
  const sealer = new Sealer(keys);
  const now = overrides.now ?? Date.now;
  const webex = webexClientFor(config, metrics, logger);
  const flow: FlowDeps = {
    config,
    store,
    sealer,
    webex,
    logger,
    metrics,
    limiter: new RateLimiter(store, metrics, sealer.hasher),
    workload: createWorkloadVerifier({
      policy: config.workload,
      store,
      digest: (value) => sealer.hasher.digest('workload_jti', value),
      // Issuers' keys are fetched through the same egress (proxy) as Webex.
      fetch: (url, init) => webex.egressFetch(url, init),
      now,
    }),
    now,
  };
  metrics.countGrantsWith(() => countActiveGrants(flow));
  const sandbox = sandboxFor(config, overrides.sandbox);
  if (sandbox) {
    logger.warn(
      { event: 'sandbox' },
      'SANDBOX MODE: Webex is simulated under /sandbox/v1; tokens are fake. Never use this in production.',
    );
  }
  const waiters = new HandoffWaiters(flow);
  metrics.countWaitingPollsWith(() => waiters.size);
  const app = createApp({
    ...flow,
    waiters,
    sandbox,
    cliDownload: overrides.cliDownload,
    readFormBodies: overrides.readFormBodies,
  });
  return {
    config,
    logger,
    store,
    metrics,
    waiters,
    sandbox,
    flow,
    app,
    async close() {
      waiters.releaseAll();
      await store.close();
      await flow.webex.close();
    },
  };
}

function sandboxFor(config: AppConfig, given: Sandbox | null | undefined): Sandbox | undefined {
  if (given !== undefined) return given ?? undefined;
  if (!config.sandbox) return undefined;
  // It sends browsers back only to the service's own callback, never to a redirect_uri it is handed.
  return new Sandbox({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redirectUris: [config.redirectUri],
    // The simulated integration has every scope this service may ask for ticked.
    registeredScopes: [
      ...SCOPE_CATALOG.map((s) => s.scope),
      ...config.allowedScopes,
      ...config.staticScopes,
    ],
  });
}

/** Redis when configured (its connection events logged), else the in-memory store. */
async function buildStore(
  config: AppConfig,
  logger: Logger,
  overrides: ServiceOverrides,
): Promise<Store> {
  if (!config.redis) {
    logger.warn(
      'REDIS_URL is not set: using the in-memory store. Fine for one local process; do not run replicas like this.',
    );
    return new MemoryStore();
  }
  const redis = new RedisStore({
    ...config.redis,
    commandTimeoutMs: overrides.redisCommandTimeoutMs ?? config.redis.commandTimeoutMs,
    ...(overrides.redisBatchWrites === false ? { batchWrites: false } : {}),
    onEvent: (event, detail) => {
      if (event === 'error')
        logger.warn({ event: 'redis_error', reason: detail }, 'Redis connection problem');
      else if (event === 'wait_short')
        logger.warn(
          { event: 'redis_wait_short', detail },
          'A durable write was not confirmed by the replicas in time; it stands on the master only until they catch up.',
        );
      else if (event === 'master_switched')
        logger.info(
          { event: 'redis_master_switched', master: detail },
          'A sentinel announced a new Redis master: moving a connection to it.',
        );
      else logger.info({ event: `redis_${event}` }, `Redis connection ${event}`);
    },
  });
  if (await redis.waitUntilReady(overrides.redisReadyMs ?? 5000)) {
    logger.info(
      { event: 'redis_topology', mode: config.redis.mode },
      `${redis.describe()} (REDIS_MODE=${config.redis.mode})`,
    );
    // Grants live in Redis for up to 90 days. Readiness does not depend on this (see
    // docs/grants.md, "Durability"); a warning tells operators while they can still fix it.
    if ((await redis.appendOnly().catch(() => null)) === false) {
      logger.warn(
        { event: 'redis_not_persisting' },
        "Redis reports no append-only file (appendonly no): grants (scripts' refresh tokens) are lost if Redis restarts without a snapshot. Turn on appendonly, or accept that scripts must log in again after a Redis restart.",
      );
    }
  } else {
    logger.warn(
      { event: 'redis_topology', mode: config.redis.mode },
      `Redis (REDIS_MODE=${config.redis.mode}) is not reachable yet; /readyz will fail until it is. Requests that need it answer 503.`,
    );
  }
  return redis;
}

function defaultLogger(config: AppConfig): Logger {
  return createLogger({
    level: config.logLevel,
    pretty: config.env !== 'production' && Boolean(process.stdout.isTTY) && hasPrettyPrinter(),
  });
}

function hasPrettyPrinter(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

export interface RunningService {
  server: http.Server;
  config: AppConfig;
  store: Store;
  logger: Logger;
  /** Graceful stop: the SIGTERM path, callable from tests. */
  shutdown: () => Promise<void>;
}

/**
 * buildService, then listen on the configured port (and METRICS_PORT). The returned shutdown
 * stops accepting, answers waiting polls, lets in-flight requests finish within the grace
 * period and closes the store.
 */
export async function startService(
  env: Record<string, string | undefined>,
  overrides: ServiceOverrides = {},
): Promise<RunningService> {
  const service = await buildService(loadConfig(env), overrides);
  const { config, logger, store } = service;

  const server = http.createServer(service.app.callback());
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  await listen(server, config.port, config.host);
  const metricsServer = config.metricsPort
    ? await listenMetrics(config, service.metrics)
    : undefined;
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
      service.waiters.releaseAll();
      const grace = new Promise<void>((resolve) =>
        setTimeout(resolve, config.shutdownGraceSeconds * 1000).unref(),
      );
      await Promise.race([closed, grace]);
      server.closeAllConnections();
      await service.close();
      logger.info({ event: 'stopped' }, 'stopped');
      // Log lines are written asynchronously: hand the last ones over before the process exits.
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
    })());

  return { server, config, store, logger, shutdown };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

/** A second listener that serves only /metrics, for scrapers inside the cluster. */
async function listenMetrics(config: AppConfig, metrics: Metrics): Promise<http.Server> {
  const app = new Koa();
  const router = metricsRouter(metrics);
  app.use(router.routes()).use(router.allowedMethods());
  const server = http.createServer(app.callback());
  await listen(server, config.metricsPort, config.host);
  return server;
}
