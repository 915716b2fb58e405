/**
 * Helpers for the benchmark: child processes, Redis command counters and small statistics
 * (/proc readings are in proc.ts). Nothing here touches keys outside the bench's own prefix.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Redis } from 'ioredis';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile of raw samples (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

// ---------------------------------------------------------------------------------------
// Processes

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Last lines the child wrote to stderr, for error messages. */
  stderrTail: () => string;
  /** Send an IPC request and wait for the answer with the same id. */
  ask: <T>(type: string, extra?: Record<string, unknown>) => Promise<T>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop: (graceMs?: number) => Promise<void>;
}

let askSeq = 0;

/** Spawn a child with an IPC channel; stdout goes to /dev/null (or is ignored), stderr is kept. */
export function spawnChild(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { cwd?: string } = {},
): Child {
  const devNull = fs.openSync('/dev/null', 'w');
  const stdio: StdioOptions = ['ignore', devNull, 'pipe', 'ipc'];
  const proc = spawn(command, args, { env, stdio, cwd: opts.cwd });
  fs.closeSync(devNull);
  const tail: string[] = [];
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => {
    tail.push(chunk);
    if (tail.length > 40) tail.shift();
  });
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  proc.once('exit', () => process.off('exit', killOnExit));
  const pending = new Map<number, (msg: unknown) => void>();
  proc.on('message', (msg: { id?: number }) => {
    if (typeof msg?.id === 'number') {
      pending.get(msg.id)?.(msg);
      pending.delete(msg.id);
    }
  });
  return {
    proc,
    pid: proc.pid!,
    stderrTail: () => tail.join('').slice(-3000),
    ask: <T>(type: string, extra: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = ++askSeq;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`child ${proc.pid} did not answer "${type}"`));
        }, 10_000);
        pending.set(id, (msg) => {
          clearTimeout(timer);
          resolve(msg as T);
        });
        proc.send({ type, id, ...extra });
      }),
    stop: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        proc.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}

/** Wait for the first message of a given type from a child (e.g. {type:'listening', url}). */
export function firstMessage<T>(child: Child, type: string, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`child did not send "${type}" in time:\n${child.stderrTail()}`)),
      timeoutMs,
    );
    const onMessage = (msg: { type?: string }) => {
      if (msg?.type !== type) return;
      clearTimeout(timer);
      child.proc.off('message', onMessage);
      resolve(msg as T);
    };
    child.proc.on('message', onMessage);
    child.proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before "${type}":\n${child.stderrTail()}`));
    });
  });
}

const probeAgent = new http.Agent({ keepAlive: false });

/** One GET; resolves with the status (0 when the connection fails). */
export function getStatus(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: probeAgent, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Poll `url` until it answers 200; returns ms waited. Throws after `timeoutMs`. */
export async function waitFor200(
  url: string,
  timeoutMs = 15_000,
  everyMs = 5,
  child?: Child,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    if ((await getStatus(url, 500)) === 200) return performance.now() - started;
    if (child && (child.proc.exitCode !== null || child.proc.signalCode !== null)) {
      throw new Error(`process exited before ${url} was ready:\n${child.stderrTail()}`);
    }
    if (performance.now() - started > timeoutMs)
      throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------
// Redis command counters

export type CommandCounts = Map<string, number>;

/** `INFO commandstats` as command → calls. */
export async function commandStats(admin: Redis): Promise<CommandCounts> {
  const text = await admin.info('commandstats');
  const out: CommandCounts = new Map();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/**
 * Calls made between two snapshots, without the bench's own INFO calls. Commands the store's
 * Lua scripts run (inside EVALSHA) are counted by Redis too: this is the work Redis does, not
 * the number of round trips (monitorRoundTrips counts those).
 */
export function commandDelta(
  before: CommandCounts,
  after: CommandCounts,
): { total: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  for (const [cmd, calls] of after) {
    const d = calls - (before.get(cmd) ?? 0);
    if (d > 0 && cmd !== 'info') byCommand[cmd] = d;
  }
  const total = Object.values(byCommand).reduce((a, b) => a + b, 0);
  return { total, byCommand };
}

/**
 * Round trips clients make while `during` runs, from Redis MONITOR: it reports each command
 * with its source, a client address or "lua" for calls made inside a script, so script calls
 * are told apart exactly. MONITOR slows Redis down, so this runs on its own short sample,
 * never during a timed measurement. The bench's own INFO calls are left out.
 */
export async function monitorRoundTrips(
  redisUrl: string,
  during: () => Promise<void>,
): Promise<{ client: Record<string, number>; script: Record<string, number> }> {
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const monitor = await conn.monitor();
  const client: Record<string, number> = {};
  const script: Record<string, number> = {};
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const cmd = String(args[0]).toLowerCase();
    if (cmd === 'info' || cmd === 'monitor') return;
    const into = source === 'lua' ? script : client;
    into[cmd] = (into[cmd] ?? 0) + 1;
  });
  // ioredis's MONITOR parser can lose its place under heavy load ("Command queue state
  // error"); the counts are then wrong, and unheard the error would end the whole run.
  let failure: Error | undefined;
  monitor.on('error', (err: Error) => (failure ??= err));
  try {
    await sleep(100);
    await during();
    await sleep(300);
  } finally {
    monitor.disconnect();
    conn.disconnect();
  }
  if (failure) throw new Error(`Redis MONITOR failed: ${failure.message}`);
  return { client, script };
}

/** The Node flags in the Dockerfile's CMD (exec form): the service runs as the image runs it. */
export function imageNodeFlags(dockerfile = path.resolve(__dirname, '..', 'Dockerfile')): string[] {
  const m = /^CMD (\[.*\])$/m.exec(fs.readFileSync(dockerfile, 'utf8'));
  if (!m) throw new Error(`no exec-form CMD in ${dockerfile}`);
  const argv = JSON.parse(m[1]!) as string[];
  if (argv[0] !== 'node' || argv.at(-1) !== 'dist/main.js')
    throw new Error(`unexpected CMD in ${dockerfile}: ${m[1]}`);
  return argv.slice(1, -1);
}

/** Delete every key under `prefix` (and nothing else). */
export async function deletePrefix(admin: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) removed += await admin.del(...keys);
  } while (cursor !== '0');
  return removed;
}

// ---------------------------------------------------------------------------------------
// Prometheus text

/** Sum of a counter's samples whose labels include `match` (e.g. error="slow_down"). */
export function counterValue(metricsText: string, name: string, match = ''): number {
  let sum = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (match && !rest.includes(match)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

export const MB = 1024 * 1024;
export const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';
