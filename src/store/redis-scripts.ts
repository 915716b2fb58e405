/**
 * The Lua scripts the Redis store runs server-side (the steps that must be atomic: a counter with
 * its expiry, a read that opens a poll gate, sets whose members expire), and the typing of the
 * commands ioredis defines for them.
 */
import type { RedisClient } from './redis-topology';

const INCREMENT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {c, redis.call('PTTL', KEYS[1])}`;

// KEYS: the keys read, then the gate. ARGV: ttl ms, step ms, index of the counter in the keys read.
const READ_AND_OPEN_GATE_SCRIPT = `
local values = redis.call('MGET', unpack(KEYS, 1, #KEYS - 1))
local opened = 0
if values[1] then
  local n = tonumber(values[tonumber(ARGV[3])] or '0') or 0
  local ttl = math.max(1, math.floor(tonumber(ARGV[1]) + tonumber(ARGV[2]) * n))
  if redis.call('SET', KEYS[#KEYS], '1', 'PX', ttl, 'NX') then opened = 1 end
end
return {values, opened}`;

// Sets whose members expire: a sorted set scored by each member's expiry (Redis's own clock, so
// replicas with skewed clocks agree), pruned on every touch; the key lives as long as its
// longest-lived member. KEYS: the set. ARGV: member, ttl ms.
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
const SET_ADD_SCRIPT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(last[2]))) end
return 1`;
const SET_MEMBERS_SCRIPT = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)`;

type WithScripts = {
  wstSetAdd(key: string, member: string, ttlMs: number): Promise<number>;
  wstSetMembers(key: string): Promise<string[]>;
  wstIncrement(key: string, ttlMs: number): Promise<[number, number]>;
  wstReadAndOpenGate(
    numKeys: number,
    ...args: (string | number)[]
  ): Promise<[(string | null)[], number]>;
};
export type ClientWithScripts = RedisClient & WithScripts;

/** Defines the scripts as commands on `client` (ioredis sends EVALSHA, falling back to EVAL). */
export function defineScripts(client: RedisClient): ClientWithScripts {
  const withScripts = client as ClientWithScripts;
  withScripts.defineCommand('wstIncrement', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
  withScripts.defineCommand('wstReadAndOpenGate', { lua: READ_AND_OPEN_GATE_SCRIPT });
  withScripts.defineCommand('wstSetAdd', { numberOfKeys: 1, lua: SET_ADD_SCRIPT });
  withScripts.defineCommand('wstSetMembers', { numberOfKeys: 1, lua: SET_MEMBERS_SCRIPT });
  return withScripts;
}
