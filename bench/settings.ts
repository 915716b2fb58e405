/**
 * The bench's knobs (env) and fixed sizes, read once. Every section reads them from here, so a
 * run's settings line in the report matches what was measured.
 */
import crypto from 'node:crypto';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');
export const WORK = path.join(ROOT, 'node_modules', '.cache', 'wst-bench');
export const DIST = path.join(WORK, 'dist');
export const DURATION = Number(process.env.BENCH_DURATION ?? 5);
export const REPS = Number(process.env.BENCH_REPS ?? 3);
export const POLL_CODES = Number(process.env.BENCH_POLL_CODES ?? 30_000);
/** ID tokens signed per run of the exchange section's cached load (each jti is single-use). */
export const EXCHANGE_TOKENS = Number(
  process.env.BENCH_EXCHANGE_TOKENS ?? 1000 * Math.max(2, DURATION),
);
export const CONNECTIONS = [1, 100, 1000] as const;
export const WAITERS = 1000;
export const FLOW_CONCURRENCY = 8;
export const COLD_STARTS = 5;
/** A git revision to measure next to this tree in the polling section (before/after a fix). */
export const COMPARE = process.env.BENCH_COMPARE ?? '';
export const ONLY = new Set(
  (process.env.BENCH_ONLY ?? 'start,poll,pages,wait,flow,refresh,exchange,speedups')
    .split(',')
    .map((s) => s.trim()),
);
export const PREFIX = `wst-bench-${process.pid}-${crypto.randomBytes(3).toString('hex')}:`;
export const KEY = crypto.randomBytes(32).toString('base64');
export const POLL_INTERVAL_SECONDS = 1;
export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export const log = (msg: string) =>
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
