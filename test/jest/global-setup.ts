/**
 * Runs once before every project: provides the Redis the tests share (REDIS_URL, else
 * testcontainers, else a local redis-server; see test/helpers/redis.ts) and exports its URL, so
 * Jest's workers and the processes tests spawn inherit it. Each test server still takes its own
 * key prefix (uniquePrefix), so runs never see each other's keys.
 */
import { provideRedis, type ProvidedRedis } from '../helpers/redis';

declare global {
  var __WST_REDIS__: ProvidedRedis | undefined;
}

export default async function globalSetup(): Promise<void> {
  process.env.NODE_ENV = 'test';
  const redis = await provideRedis();
  process.env.REDIS_URL = redis.url;
  globalThis.__WST_REDIS__ = redis;
  if (redis.kind !== 'env') console.log(`\nRedis for the tests: ${redis.kind} at ${redis.url}`);
}
