/**
 * Part of the configuration schema (schema.ts): the store (Redis) and its keys, the proxy hop
 * in front, who may sign in and for how long, and logging.
 */
import {
  isBoolean,
  isKeyList,
  isPositiveInt,
  isRedisUrl,
  isString,
  isWaitReplicas,
  type Setting,
} from './formats';

export const storeSettings = {
  redisMode: {
    doc: 'Redis topology: standalone (one server), cluster (Redis Cluster) or sentinel (a master found through Redis Sentinel).',
    format: ['standalone', 'cluster', 'sentinel'],
    default: 'standalone',
    env: 'REDIS_MODE',
  },
  redisUrl: {
    doc: 'Redis URL (redis:// or rediss:// for TLS, password inside). Cluster: comma-separated seed nodes; sentinel: comma-separated sentinels. Unset: an in-memory store for one local process (with a warning).',
    format: isRedisUrl,
    default: '',
    env: 'REDIS_URL',
    sensitive: true,
  },
  redisPrefix: {
    doc: 'Prefix for every Redis key this service writes.',
    format: isString,
    default: 'wst:',
    env: 'REDIS_PREFIX',
  },
  redisPassword: {
    doc: 'Password of the Redis servers (every mode), instead of one inside REDIS_URL; lets REDIS_URL list hosts only while the password comes from a Secret.',
    format: isString,
    default: '',
    env: 'REDIS_PASSWORD',
    sensitive: true,
  },
  redisSentinelName: {
    doc: 'Sentinel mode: the name of the master group the sentinels watch.',
    format: isString,
    default: 'mymaster',
    env: 'REDIS_SENTINEL_NAME',
  },
  redisSentinelPassword: {
    doc: 'Sentinel mode: password for the sentinels themselves (the password in REDIS_URL is for the Redis servers). Empty: the sentinels need none.',
    format: isString,
    default: '',
    env: 'REDIS_SENTINEL_PASSWORD',
    sensitive: true,
  },
  redisTlsCaFile: {
    doc: "PEM file with the CA that signed the Redis servers' certificates, for rediss:// with a private CA. Empty: the system CAs.",
    format: isString,
    default: '',
    env: 'REDIS_TLS_CA_FILE',
  },
  redisWaitReplicas: {
    doc: 'Replicas that must confirm an approval (or any write that must outlive a node) before the service answers (Redis WAIT). auto: 1 in cluster and sentinel modes, 0 in standalone.',
    format: isWaitReplicas,
    default: 'auto',
    env: 'REDIS_WAIT_REPLICAS',
  },
  redisWaitTimeoutMs: {
    doc: 'How long such a write waits for its replicas before going ahead with a warning (redis_wait_short in the log); at most half of REDIS_COMMAND_TIMEOUT_MS is used.',
    format: isPositiveInt(10_000),
    default: 500,
    env: 'REDIS_WAIT_TIMEOUT_MS',
  },
  redisCommandTimeoutMs: {
    doc: 'Timeout in milliseconds for one Redis command; past it the request answers 503.',
    format: isPositiveInt(60_000),
    default: 1000,
    env: 'REDIS_COMMAND_TIMEOUT_MS',
  },
  tokenEncryptionKey: {
    doc: 'Comma-separated base64 32-byte AES keys; the first encrypts, all decrypt. Required with Redis.',
    format: isKeyList,
    default: '',
    env: 'TOKEN_ENCRYPTION_KEY',
    sensitive: true,
  },
  trustProxy: {
    doc: 'Trust X-Forwarded-For/-Proto set by exactly one proxy hop in front (true behind an ingress).',
    format: isBoolean,
    // A string default, so convict does not coerce typos like "ture" into true before validation.
    default: 'false',
    env: 'TRUST_PROXY',
  },
  allowedOrgIds: {
    doc: "Space- or comma-separated Webex org IDs allowed to sign in, as the UUID Control Hub shows or the API's base64 form (empty: any org; refused in production unless ALLOW_ANY_ORG=true).",
    format: isString,
    default: '',
    env: 'ALLOWED_ORG_IDS',
  },
  allowAnyOrg: {
    doc: 'Production with an empty ALLOWED_ORG_IDS: let admins of any Webex org sign in and approve (set on purpose).',
    format: isBoolean,
    // A string default, so convict does not coerce typos like "ture" into true before validation.
    default: 'false',
    env: 'ALLOW_ANY_ORG',
  },
  logLevel: {
    doc: 'Minimum level of log lines written (JSON on stdout).',
    format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    env: 'LOG_LEVEL',
  },
  flowTtlSeconds: {
    doc: 'Seconds a browser sign-in (state and PKCE verifier) stays valid.',
    format: isPositiveInt(3600),
    default: 600,
    env: 'FLOW_TTL_SECONDS',
  },
} as const satisfies Record<string, Setting>;
