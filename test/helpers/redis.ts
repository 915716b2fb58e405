/**
 * Finds a Redis for the tests: REDIS_URL when set; otherwise a testcontainers Redis when a
 * Docker engine answers; otherwise a redis-server this process starts on a free port.
 * With none of these, it throws a message that says what to install: tests never skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { until } from './time';

export interface ProvidedRedis {
  url: string;
  kind: 'env' | 'testcontainers' | 'local';
  stop(): Promise<void>;
}

let shared: Promise<ProvidedRedis> | undefined;

/** One Redis per test process, shared by every test file in it. */
export function sharedRedis(): Promise<ProvidedRedis> {
  shared ??= provideRedis();
  return shared;
}

export async function provideRedis(): Promise<ProvidedRedis> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    await assertReachable(fromEnv, 'REDIS_URL');
    return { url: fromEnv, kind: 'env', stop: async () => undefined };
  }
  const container = await tryTestcontainers();
  if (container) return container;
  const local = await tryLocalServer();
  if (local) return local;
  throw new Error(
    'No Redis for the tests: set REDIS_URL=redis://host:port, start a Docker engine (testcontainers), or install redis-server (apt-get install redis-server).',
  );
}

async function assertReachable(url: string, what: string): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new Error(
      `${what} (${url.replace(/\/\/[^@]*@/, '//***@')}) does not answer PING: ${(err as Error).message}`,
    );
  } finally {
    client.disconnect();
  }
}

async function tryTestcontainers(): Promise<ProvidedRedis | null> {
  if (!fs.existsSync('/var/run/docker.sock') && !process.env.DOCKER_HOST) return null;
  try {
    const { GenericContainer } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      kind: 'testcontainers',
      stop: async () => {
        await container.stop();
      },
    };
  } catch {
    return null;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function redisServerBinary(): string | null {
  for (const dir of (process.env.PATH ?? '')
    .split(path.delimiter)
    .concat(['/usr/bin', '/usr/local/bin', '/usr/sbin'])) {
    const candidate = path.join(dir, 'redis-server');
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

/** A redis-server owned by the caller: it can be stopped and started again on the same port. */
export class LocalRedisServer {
  private child: ChildProcess | undefined;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-redis-'));

  constructor(
    readonly port: number,
    private readonly binary: string,
    /** Keep an append-only file in `dir`, synced on every write, and load it at start. */
    private readonly appendOnly = false,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server; a no-op while it runs (a second one could not bind, and the first would leak). */
  async start(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    const child = spawn(
      this.binary,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        this.appendOnly ? 'yes' : 'no',
        ...(this.appendOnly ? ['--appendfsync', 'always'] : []),
        '--dir',
        this.dir,
      ],
      {
        stdio: 'ignore',
      },
    );
    child.unref();
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.off('exit', kill));
    this.child = child;
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode})`);
        await assertReachable(this.url, 'local redis-server');
        return true;
      },
      { what: `a local redis-server on ${this.url}`, everyMs: 50 },
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    this.child = undefined;
  }
}

export async function startLocalRedis(
  opts: { appendOnly?: boolean } = {},
): Promise<LocalRedisServer> {
  const binary = redisServerBinary();
  if (!binary)
    throw new Error(
      'redis-server is not installed (apt-get install redis-server): this test needs a Redis it can stop and start.',
    );
  const server = new LocalRedisServer(await freePort(), binary, opts.appendOnly ?? false);
  await server.start();
  return server;
}

async function tryLocalServer(): Promise<ProvidedRedis | null> {
  if (!redisServerBinary()) return null;
  const server = await startLocalRedis();
  return { url: server.url, kind: 'local', stop: () => server.stop() };
}

/** A key prefix unique to this test run, so runs never see or delete each other's keys. */
export function uniquePrefix(label = 'test'): string {
  return `wst-${label}-${process.pid}-${crypto.randomBytes(4).toString('hex')}:`;
}

/** Every key and value under a prefix, for "nothing in clear" scans; then optionally deletes them. */
export async function dumpPrefix(
  url: string,
  prefix: string,
  opts: { remove?: boolean } = {},
): Promise<Map<string, string>> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  const out = new Map<string, string>();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await client.type(key);
        // Sorted sets (the grant indexes) are dumped with their members, so canaries see them.
        const value =
          type === 'string'
            ? await client.get(key)
            : type === 'zset'
              ? `<zset> ${(await client.zrange(key, 0, -1)).join(' ')}`
              : `<${type}>`;
        if (value !== null) out.set(key, value);
      }
      if (opts.remove && keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return out;
}
