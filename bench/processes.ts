/**
 * The processes of a run: Redis, the service under test (the production build, as the image
 * starts it), the helpers (baseline, sandbox), and an in-process replica of the service.
 */
import path from 'node:path';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../src/config';
import type { FlowDeps } from '../src/flows/context';
import { createHandoff, handoffIdFor } from '../src/flows/device';
import { buildService, type Service } from '../src/service';
import { SANDBOX_ORG_UUID } from '../src/sandbox/sandbox';
import { FORBIDDEN_SCOPES, SCOPE_CATALOG } from '../src/webex/scopes';
import { freePort, startLocalRedis, type LocalRedisServer } from '../test/helpers/redis';
import { TEST_CLIENT_ID, TEST_CLIENT_SECRET } from '../test/helpers/server';
import { firstMessage, imageNodeFlags, spawnChild, waitFor200, type Child } from './lib';
import { DIST, KEY, POLL_INTERVAL_SECONDS, PREFIX, ROOT, WORK, log } from './settings';

/** What every section gets: the run's Redis, its helper processes and the in-process replica. */
export interface Ctx {
  admin: Redis;
  /** redis-server's pid (INFO server), and the other helper processes, for the noise figure. */
  redisPid: number;
  otherPids: number[];
  redisUrl: string;
  sandboxUrl: string;
  /** The replica's flows (src/service.ts), acting on the service's Redis and prefix. */
  deps: FlowDeps;
}

export interface BenchRedis {
  url: string;
  dedicated: boolean;
  server: LocalRedisServer | null;
}

export async function provideRedis(): Promise<BenchRedis> {
  try {
    const server = await startLocalRedis();
    return { url: server.url, dedicated: true, server };
  } catch (err) {
    const url = process.env.REDIS_URL;
    if (!url) throw new Error(`No redis-server binary and no REDIS_URL: ${(err as Error).message}`);
    log(
      `no redis-server to start (${(err as Error).message}); using REDIS_URL: command counts may include other clients' traffic`,
    );
    return { url, dedicated: false, server: null };
  }
}

export function serviceEnv(
  port: number,
  redisUrl: string,
  sandboxUrl: string,
  metricsPort: number,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    // Nothing from the caller's service configuration leaks in.
    if (
      /^(REDIS_|WEBEX_|DEVICE_|RATE_LIMIT_|SCOPES|ALLOWED_|CONFIG_FILE|SANDBOX|LOG_LEVEL|TRUST_PROXY|METRICS_|HOST|PORT|PUBLIC_URL|REDIRECT_URI)/.test(
        k,
      )
    )
      delete env[k];
  }
  return {
    ...env,
    NODE_ENV: 'production',
    ALLOW_HTTP_PUBLIC_URL: 'true',
    // Production refuses an empty org list and /metrics on the public port.
    ALLOWED_ORG_IDS: SANDBOX_ORG_UUID,
    // Production needs the integration's scope list: the whole catalog, as the home page shows.
    ALLOWED_SCOPES: SCOPE_CATALOG.map((s) => s.scope)
      .filter((s) => !FORBIDDEN_SCOPES.has(s))
      .join(' '),
    METRICS_PORT: String(metricsPort),
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    CLIENT_ID: TEST_CLIENT_ID,
    CLIENT_SECRET: TEST_CLIENT_SECRET,
    WEBEX_AUTHORIZE_URL: `${sandboxUrl}/v1/authorize`,
    WEBEX_TOKEN_URL: `${sandboxUrl}/v1/access_token`,
    WEBEX_API_URL: `${sandboxUrl}/v1`,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: PREFIX,
    TOKEN_ENCRYPTION_KEY: KEY,
    LOG_LEVEL: 'info',
    DEVICE_POLL_INTERVAL_SECONDS: String(POLL_INTERVAL_SECONDS),
    DEVICE_CODE_TTL_SECONDS: '1800',
    RATE_LIMIT_DEVICE_AUTHORIZATIONS: '100000',
    // Every approval enters a user code from 127.0.0.1 (counted, right or wrong): at most
    // 1,000 per window, so a one-second window lets the handoffs run at up to 1,000/s.
    RATE_LIMIT_WINDOW_SECONDS: '1',
    RATE_LIMIT_USER_CODE_FAILURES: '1000',
    // The refresh section sends thousands of refreshes a second from one address (the maximum).
    RATE_LIMIT_REFRESHES: '100000',
  };
}

export interface ServiceChild {
  child: Child;
  url: string;
  env: NodeJS.ProcessEnv;
}

let profileCount = 0;

/** The production build as its own process, plus the tiny IPC preload (gc + memoryUsage). */
export async function startServiceChild(
  redisUrl: string,
  sandboxUrl: string,
  label: string,
  override: {
    dist?: string;
    env?: NodeJS.ProcessEnv;
    /** A speedup swapped out (bench/variant-main.cjs) instead of the plain dist/main.js. */
    variant?: 'plain-writes' | 'co-body';
  } = {},
): Promise<ServiceChild> {
  const port = await freePort();
  const env = { ...serviceEnv(port, redisUrl, sandboxUrl, await freePort()), ...override.env };
  // The Node flags the image's CMD gives, then the bench's own (gc + memoryUsage over IPC).
  // A BENCH_COMPARE build runs with the flags of its own revision's Dockerfile.
  const dockerfile = override.dist ? path.join(override.dist, '..', 'Dockerfile') : undefined;
  const args = [
    ...imageNodeFlags(dockerfile),
    '--expose-gc',
    '-r',
    path.join(__dirname, 'preload.cjs'),
  ];
  if (process.env.BENCH_CPU_PROF) {
    args.push(
      '--cpu-prof',
      `--cpu-prof-dir=${path.join(WORK, 'prof')}`,
      `--cpu-prof-name=${label}-${++profileCount}.cpuprofile`,
    );
  }
  const child = spawnChild(
    process.execPath,
    override.variant
      ? [...args, path.join(__dirname, 'variant-main.cjs'), DIST, override.variant]
      : [...args, path.join(override.dist ?? DIST, 'main.js')],
    env,
    { cwd: WORK },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}/readyz`, 15_000, 20, child);
  return { child, url, env };
}

export async function startHelper(
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<{ child: Child; url: string }> {
  // A directory per helper, with Node's default file names: tsx's loader runs in a worker
  // thread, and one fixed name would let its profile overwrite the main thread's.
  const prof = process.env.BENCH_CPU_PROF
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${path.join(WORK, 'prof', `${path.basename(file, '.ts')}-${++profileCount}`)}`,
      ]
    : [];
  const child = spawnChild(
    process.execPath,
    [...prof, '--import', 'tsx', path.join(__dirname, file)],
    { ...process.env, ...env },
    { cwd: ROOT },
  );
  const msg = await firstMessage<{ url: string }>(child, 'listening');
  return { child, url: msg.url };
}

/**
 * The service built in this process by the same composition root as the real one, never
 * listening: a second replica sharing the service's Redis and prefix, whose flows the bench
 * calls directly (creating handoffs, approving them).
 */
export function startReplica(env: NodeJS.ProcessEnv): Promise<Service> {
  return buildService(loadConfig(env), {
    logger: pino({ level: 'silent' }),
    defaultMetrics: false,
    sandbox: null,
    // Tens of thousands of handoffs are written 200 at a time, well past the service's timeout.
    redisCommandTimeoutMs: 10_000,
  });
}

export interface Handoff {
  deviceCode: string;
  userCode: string;
  h: string;
}

/** Create `n` pending handoffs with the service's own createHandoff, `concurrency` at a time. */
export async function createHandoffs(
  deps: FlowDeps,
  n: number,
  concurrency = 200,
): Promise<Handoff[]> {
  const client = deps.config.device.clients.find((c) => c.id === 'cli')!;
  const out: Handoff[] = new Array(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const res = await createHandoff(deps, {
        client,
        scopes: ['spark-admin:people_read'],
        address: '127.0.0.1',
        userAgent: 'wst-bench',
      });
      out[i] = {
        deviceCode: res.device_code,
        userCode: res.user_code,
        h: handoffIdFor(deps, res.device_code),
      };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

export async function memOf(svc: ServiceChild): Promise<NodeJS.MemoryUsage> {
  return (await svc.child.ask<{ usage: NodeJS.MemoryUsage }>('mem', { gc: true })).usage;
}

/**
 * The baseline (bench/baseline.ts) and the record it reads: a pending handoff of the size the
 * service reads on a poll.
 */
export async function startBaseline(
  admin: Redis,
  redisUrl: string,
): Promise<{ child: Child; url: string }> {
  const baselineKey = `${PREFIX}baseline`;
  await admin.set(
    baselineKey,
    JSON.stringify({
      clientId: 'cli',
      clientName: 'webex-token CLI',
      scopes: ['spark-admin:people_read'],
      requester: { address: '127.0.0.1', userAgent: 'wst-bench' },
      createdAt: Date.now(),
      expiresAt: Date.now() + 6e5,
      status: 'pending',
      userCodeKey: `ucode:${'x'.repeat(43)}`,
    }),
  );
  return startHelper('baseline.ts', { BENCH_REDIS_URL: redisUrl, BENCH_BASELINE_KEY: baselineKey });
}
