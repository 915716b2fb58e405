/**
 * The in-run baseline: a bare Koa app that does one Redis GET per request and answers a JSON
 * body of the same size as the service's authorization_pending answer. No body parsing, no
 * router, no logging, no metrics: the floor any Koa + Redis endpoint pays on this machine.
 * Started by bench/run.ts as a child process; reports its URL over IPC.
 */
import http from 'node:http';
import type net from 'node:net';
import { Redis } from 'ioredis';
import Koa from 'koa';

const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const key = process.env.BENCH_BASELINE_KEY ?? 'wst-bench:baseline';

const BODY = {
  error: 'authorization_pending',
  error_description: 'Waiting for an admin to approve the request at the verification URI.',
};

async function main(): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const app = new Koa();
  app.use(async (ctx) => {
    const value = await redis.get(key);
    ctx.status = value === null ? 404 : 400;
    ctx.body = BODY;
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  process.send?.({ type: 'listening', url: `http://127.0.0.1:${port}` });
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    redis.disconnect();
    process.exit(0);
  });
}

void main();
