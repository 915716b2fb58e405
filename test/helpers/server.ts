/**
 * Starts the real service on loopback with the sandbox as a separate Webex upstream on its
 * own port: the one way tests build the app. Logs are captured line by line.
 */
import http from 'node:http';
import type net from 'node:net';
import { Writable } from 'node:stream';
import Koa from 'koa';
import pino from 'pino';
import type { CliDownloadSource } from '../../src/cli-download';
import type { FlowDeps } from '../../src/flows/context';
import { loadConfig, type AppConfig } from '../../src/config';
import type { HandoffWaiters } from '../../src/flows/device';
import { readFormBodies } from '../../src/middleware/form-body';
import { REDACT_PATHS, type Logger } from '../../src/logger';
import type { Metrics } from '../../src/metrics';
import { Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox';
import { buildService } from '../../src/service';
import type { Store } from '../../src/store/store';
import { renderViews } from '../../src/views/views';
import { dumpPrefix, sharedRedis, uniquePrefix } from './redis';

export const TEST_CLIENT_ID = 'test-integration-id';
export const TEST_CLIENT_SECRET = 'test-integration-secret-0123456789';
export const TEST_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestServerOptions {
  env?: Record<string, string>;
  /** 'redis' (default): a real Redis with a prefix unique to this server. */
  store?: 'redis' | 'memory';
  /** Use this Redis URL instead of the shared one (e.g. a server the test stops). */
  redisUrl?: string;
  /** Share an existing sandbox (two app instances, one Webex). */
  sandbox?: RunningSandbox;
  /** Share a Redis prefix with another instance. */
  redisPrefix?: string;
  sandboxOptions?: Partial<SandboxOptions>;
  /** The flows' clock (default Date.now). */
  now?: () => number;
  /** What /cli/webex-token.js serves (default: built from source on first request). */
  cliDownload?: CliDownloadSource;
}

export interface RunningSandbox {
  sandbox: Sandbox;
  url: string;
  close(): Promise<void>;
}

export interface TestServer {
  url: string;
  config: AppConfig;
  store: Store;
  sandbox: Sandbox;
  sandboxUrl: string;
  metrics: Metrics;
  waiters: HandoffWaiters;
  /** What the flows run on, for tests that call a flow module directly (the grants API). */
  flow: FlowDeps;
  /** Every log line the service wrote, as JSON text. */
  logs: string[];
  redis: { url: string; prefix: string } | null;
  server: http.Server;
  close(): Promise<void>;
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startSandbox(options: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  const sandbox = new Sandbox({
    clientId: TEST_CLIENT_ID,
    clientSecret: TEST_CLIENT_SECRET,
    hangMs: 1500,
    ...options,
  });
  const app = new Koa();
  app.use(renderViews({ sandbox: true, cache: true }));
  app.use(readFormBodies(64 * 1024));
  const router = sandbox.router('/v1');
  app.use(router.routes()).use(router.allowedMethods());
  const server = http.createServer(app.callback());
  const port = await listen(server);
  return { sandbox, url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

export function captureLogger(lines: string[], level = 'debug'): Logger {
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(line);
      cb();
    },
  });
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream);
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const ownSandbox = opts.sandbox ? null : await startSandbox(opts.sandboxOptions);
  const sb = opts.sandbox ?? ownSandbox!;
  const server = http.createServer();
  const port = await listen(server);
  const url = `http://127.0.0.1:${port}`;

  const useRedis = (opts.store ?? 'redis') === 'redis';
  const redisUrl = useRedis ? (opts.redisUrl ?? (await sharedRedis()).url) : '';
  const prefix = opts.redisPrefix ?? uniquePrefix();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    PORT: String(port),
    PUBLIC_URL: url,
    CLIENT_ID: TEST_CLIENT_ID,
    CLIENT_SECRET: TEST_CLIENT_SECRET,
    WEBEX_AUTHORIZE_URL: `${sb.url}/v1/authorize`,
    WEBEX_TOKEN_URL: `${sb.url}/v1/access_token`,
    WEBEX_API_URL: `${sb.url}/v1`,
    WEBEX_TIMEOUT_MS: '800',
    LOG_LEVEL: 'debug',
    ...(useRedis
      ? { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, TOKEN_ENCRYPTION_KEY: TEST_KEY }
      : {}),
    ...opts.env,
  };
  const config = loadConfig(env);
  sb.sandbox.allowRedirectUri(config.redirectUri);
  const logs: string[] = [];
  const service = await buildService(config, {
    logger: captureLogger(logs, config.logLevel),
    sandbox: null,
    defaultMetrics: false,
    redisReadyMs: 3000,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.cliDownload ? { cliDownload: opts.cliDownload } : {}),
  });
  server.on('request', service.app.callback());

  return {
    url,
    config,
    store: service.store,
    sandbox: sb.sandbox,
    sandboxUrl: sb.url,
    metrics: service.metrics,
    waiters: service.waiters,
    flow: service.flow,
    logs,
    redis: config.redis ? { url: config.redis.url, prefix: config.redis.prefix } : null,
    server,
    async close() {
      // Waiting polls are answered before their connections are cut.
      service.waiters.releaseAll();
      await closeServer(server);
      await service.close();
      if (config.redis && !opts.redisPrefix)
        await dumpPrefix(config.redis.url, config.redis.prefix, { remove: true });
      await ownSandbox?.close();
    },
  };
}
