/**
 * The configuration contract: one convict schema, validated once at startup.
 * This is the only module that reads the environment (callers pass `process.env` in).
 */
import fs from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { orgUuid } from './webex/org-id';
import { parseScopeList, replacedScopeReason } from './webex/scopes';
import {
  DEFAULT_WORKLOAD_ALGORITHMS,
  parseWorkloadAlgorithms,
  parseWorkloadIssuers,
  type WorkloadPolicy,
} from './workload/issuers';

type Validator = (value: unknown) => void;

const isUrl =
  (allowEmpty: boolean): Validator =>
  (value) => {
    if (allowEmpty && value === '') return;
    if (typeof value !== 'string') throw new Error('must be an http(s) URL');
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new Error('must be an absolute http(s) URL, e.g. https://tokens.example.com');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new Error('must use http or https');
    }
  };

const isPositiveInt =
  (max: number): Validator =>
  (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      throw new Error(`must be a whole number between 1 and ${max}`);
    }
  };

/** Base64 key list: the first key encrypts, every key decrypts (rotation). */
const isKeyList: Validator = (value) => {
  if (value === '') return;
  if (typeof value !== 'string') throw new Error('must be base64 keys separated by commas');
  for (const part of value.split(',')) {
    const trimmed = part.trim();
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
      throw new Error('must be base64-encoded 32-byte keys separated by commas (malformed base64)');
    }
    if (Buffer.from(trimmed, 'base64').length !== 32) {
      throw new Error(
        'each key must decode to exactly 32 bytes; generate one with: openssl rand -base64 32',
      );
    }
  }
};

const BOOLEAN_WORDS = ['true', 'false', '1', '0', 'yes', 'no'];

/** Strict booleans: convict's built-in Boolean turns any typo into true. */
const isBoolean: Validator = (value) => {
  if (typeof value === 'boolean') return;
  if (typeof value !== 'string' || !BOOLEAN_WORDS.includes(value.toLowerCase())) {
    throw new Error('must be true or false');
  }
};

function toBoolean(value: unknown): boolean {
  return (
    value === true ||
    (typeof value === 'string' && ['true', '1', 'yes'].includes(value.toLowerCase()))
  );
}

const isString: Validator = (value) => {
  if (typeof value !== 'string') throw new Error('must be a string');
};

/** One redis:// or rediss:// URL, or several separated by commas (cluster and sentinel seeds). */
const isRedisUrl: Validator = (value) => {
  if (value === '') return;
  if (typeof value !== 'string') throw new Error('must be a redis:// or rediss:// URL');
  for (const part of value.split(',')) {
    const url = part.trim();
    if (!/^rediss?:\/\//.test(url)) {
      throw new Error('must be a redis:// or rediss:// URL (or several, separated by commas)');
    }
    try {
      new URL(url);
    } catch {
      throw new Error('must be a valid redis:// or rediss:// URL');
    }
  }
};

/** `auto`, or a whole number of replicas from 0 to 10. */
const isWaitReplicas: Validator = (value) => {
  if (value === 'auto') return;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 10) {
    throw new Error('must be auto or a whole number of replicas between 0 and 10');
  }
};

export type RedisMode = 'standalone' | 'cluster' | 'sentinel';

export interface RedisConfig {
  mode: RedisMode;
  /** One URL, or comma-separated seeds (cluster nodes, sentinels). */
  url: string;
  prefix: string;
  commandTimeoutMs: number;
  /** Overrides the password of the URL(s) when not empty. */
  password: string;
  sentinelName: string;
  sentinelPassword: string;
  tlsCaFile: string;
  /** Replicas a durable write waits for (WAIT), and for how long. */
  waitReplicas: number;
  waitTimeoutMs: number;
}

export interface DeviceClientConfig {
  id: string;
  name: string;
  description?: string;
  secret?: string;
  scopes?: string[];
}

const isClientList: Validator = (value) => {
  const list: unknown = typeof value === 'string' ? safeJson(value) : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error('must be a non-empty JSON array of {"id","name",...} objects');
  }
  const seen = new Set<string>();
  for (const item of list) {
    if (typeof item !== 'object' || item === null) throw new Error('each client must be an object');
    const c = item as Record<string, unknown>;
    if (typeof c.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(c.id)) {
      throw new Error('each client needs an "id" of 1-64 letters, digits, ".", "_" or "-"');
    }
    if (seen.has(c.id)) throw new Error(`client id "${c.id}" is listed twice`);
    seen.add(c.id);
    if (typeof c.name !== 'string' || c.name.length === 0 || c.name.length > 100) {
      throw new Error(`client "${c.id}" needs a "name" of 1-100 characters`);
    }
    if (c.secret !== undefined && (typeof c.secret !== 'string' || c.secret.length < 16)) {
      throw new Error(`client "${c.id}": "secret" must be a string of at least 16 characters`);
    }
    if (c.description !== undefined && typeof c.description !== 'string') {
      throw new Error(`client "${c.id}": "description" must be a string`);
    }
    if (
      c.scopes !== undefined &&
      (!Array.isArray(c.scopes) || c.scopes.some((s) => typeof s !== 'string'))
    ) {
      throw new Error(`client "${c.id}": "scopes" must be an array of scope strings`);
    }
  }
};

/** Shape only: the audience default (PUBLIC_URL) is filled in by resolve(). */
const isWorkloadIssuers: Validator = (value) => {
  parseWorkloadIssuers(value, 'placeholder-audience');
};

const isWorkloadAlgorithms: Validator = (value) => {
  if (typeof value !== 'string') throw new Error('must be a space-separated list of algorithms');
  parseWorkloadAlgorithms(value);
};

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The schema. Every key: doc, format, default, env; secrets are `sensitive`. */
export const configSchema = {
  env: {
    doc: 'Runtime environment. "production" turns on the strict startup checks.',
    format: ['production', 'development', 'test'],
    default: 'development',
    env: 'NODE_ENV',
  },
  port: {
    doc: 'TCP port the HTTP server listens on.',
    format: 'port',
    default: 8080,
    env: 'PORT',
  },
  metricsPort: {
    doc: 'Serve /metrics only on this separate port, kept off the public ingress (0: on PORT).',
    format: 'port',
    default: 0,
    env: 'METRICS_PORT',
  },
  host: {
    doc: 'Address the HTTP server binds to.',
    format: isString,
    default: '0.0.0.0',
    env: 'HOST',
  },
  publicUrl: {
    doc: 'External base URL of the service as browsers see it (default http://localhost:$PORT).',
    format: isUrl(true),
    default: '',
    env: 'PUBLIC_URL',
  },
  allowHttpPublicUrl: {
    doc: 'Allow an http: PUBLIC_URL when NODE_ENV=production (only behind a trusted TLS hop).',
    format: isBoolean,
    // A string default, so convict does not coerce typos like "ture" into true before validation.
    default: 'false',
    env: 'ALLOW_HTTP_PUBLIC_URL',
  },
  redirectUri: {
    doc: 'OAuth redirect URI registered with the Webex integration (default $PUBLIC_URL/oauth).',
    format: isUrl(true),
    default: '',
    env: 'REDIRECT_URI',
  },
  clientId: {
    doc: 'Client ID of the Webex integration.',
    format: isString,
    default: '',
    env: 'CLIENT_ID',
  },
  clientSecret: {
    doc: 'Client secret of the Webex integration.',
    format: isString,
    default: '',
    env: 'CLIENT_SECRET',
    sensitive: true,
  },
  scopesMode: {
    doc: 'dynamic: the admin picks scopes from the catalog; static: always the SCOPES list.',
    format: ['dynamic', 'static'],
    default: 'dynamic',
    env: 'SCOPES_MODE',
  },
  scopes: {
    doc: 'Space-separated scopes requested in static mode.',
    format: isString,
    default: '',
    env: 'SCOPES',
  },
  allowedScopes: {
    doc: "Space-separated scopes dynamic mode offers: the integration's ticked scopes (required in production; elsewhere default: the whole catalog).",
    format: isString,
    default: '',
    env: 'ALLOWED_SCOPES',
  },
  webexAuthorizeUrl: {
    doc: 'Webex authorize endpoint (default https://webexapis.com/v1/authorize; sandbox: built in).',
    format: isUrl(true),
    default: '',
    env: 'WEBEX_AUTHORIZE_URL',
  },
  webexTokenUrl: {
    doc: 'Webex token endpoint (default https://webexapis.com/v1/access_token; sandbox: built in).',
    format: isUrl(true),
    default: '',
    env: 'WEBEX_TOKEN_URL',
  },
  webexApiUrl: {
    doc: 'Webex REST API base; people/me lives under it (default https://webexapis.com/v1).',
    format: isUrl(true),
    default: '',
    env: 'WEBEX_API_URL',
  },
  identityScope: {
    doc: 'Scope added to a sign-in whose picked scopes cannot read people/me, so the service knows who signed in ("none": never add one; then ALLOWED_ORG_IDS must be empty).',
    format: ['spark:people_read', 'none'],
    default: 'spark:people_read',
    env: 'IDENTITY_SCOPE',
  },
  httpsProxy: {
    doc: 'Proxy for https calls to Webex, e.g. http://proxy.example:3128 (https_proxy also read).',
    format: isUrl(true),
    default: '',
    env: 'HTTPS_PROXY',
    sensitive: true,
  },
  httpProxy: {
    doc: 'Proxy for http calls to Webex, and for https ones when HTTPS_PROXY is unset (http_proxy also read).',
    format: isUrl(true),
    default: '',
    env: 'HTTP_PROXY',
    sensitive: true,
  },
  noProxy: {
    doc: 'Comma-separated hosts (and .domain suffixes) reached without the proxy (no_proxy also read).',
    format: isString,
    default: '',
    env: 'NO_PROXY',
  },
  webexTimeoutMs: {
    doc: 'Timeout in milliseconds for every call to Webex.',
    format: isPositiveInt(120_000),
    default: 10_000,
    env: 'WEBEX_TIMEOUT_MS',
  },
  sandbox: {
    doc: 'Serve a simulated Webex under /sandbox and use it instead of webexapis.com (demo only).',
    format: isBoolean,
    // A string default, so convict does not coerce typos like "ture" into true before validation.
    default: 'false',
    env: 'SANDBOX',
  },
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
  deviceCodeTtlSeconds: {
    doc: 'Seconds a script handoff (device_code / user_code) stays valid (expires_in).',
    format: isPositiveInt(3600),
    default: 600,
    env: 'DEVICE_CODE_TTL_SECONDS',
  },
  devicePollIntervalSeconds: {
    doc: 'Minimum seconds between two polls of the token endpoint (interval).',
    format: isPositiveInt(60),
    default: 5,
    env: 'DEVICE_POLL_INTERVAL_SECONDS',
  },
  deviceMaxWaitSeconds: {
    doc: 'Longest a poll may wait for the result when the client sends wait=N.',
    format: isPositiveInt(60),
    default: 30,
    env: 'DEVICE_MAX_WAIT_SECONDS',
  },
  deviceClients: {
    doc: 'JSON array of script clients: [{"id","name","description"?,"secret"?,"scopes"?}].',
    format: isClientList,
    default:
      '[{"id":"cli","name":"webex-token CLI","description":"The bundled webex-token command"}]',
    env: 'DEVICE_CLIENTS',
    sensitive: true,
  },
  rateLimitWindowSeconds: {
    doc: 'Length of one rate-limit window in seconds.',
    format: isPositiveInt(3600),
    default: 60,
    env: 'RATE_LIMIT_WINDOW_SECONDS',
  },
  rateLimitDeviceAuthorizations: {
    doc: 'Handoff requests allowed per source address per window.',
    format: isPositiveInt(100_000),
    default: 30,
    env: 'RATE_LIMIT_DEVICE_AUTHORIZATIONS',
  },
  rateLimitUserCodeFailures: {
    doc: 'User-code entries allowed per address (IPv6: per /64) and per browser per window; counted before the lookup, so right codes count too.',
    format: isPositiveInt(1000),
    default: 10,
    env: 'RATE_LIMIT_USER_CODE_FAILURES',
  },
  rateLimitUserCodeEntriesPerCode: {
    doc: 'Entries of any one user code allowed per window, from all addresses together.',
    format: isPositiveInt(1000),
    default: 10,
    env: 'RATE_LIMIT_USER_CODE_ENTRIES_PER_CODE',
  },
  rateLimitUserCodeGlobalFailures: {
    doc: 'Wrong user-code entries allowed per window from all sources together; past it code entry pauses for everyone and wst_user_code_global_budget_exhausted_total counts up (alert on it).',
    format: isPositiveInt(1_000_000),
    default: 200,
    env: 'RATE_LIMIT_USER_CODE_GLOBAL_FAILURES',
  },
  rateLimitStarts: {
    doc: 'Browser sign-ins (/start) allowed per source address per window.',
    format: isPositiveInt(100_000),
    default: 60,
    env: 'RATE_LIMIT_STARTS',
  },
  refreshTokens: {
    doc: "managed: scripts get rotating service refresh tokens (wst_rt_...) and Webex's stay sealed in the store; webex: scripts get Webex's refresh token, refreshed only for the client it was delivered to.",
    format: ['managed', 'webex'],
    default: 'managed',
    env: 'REFRESH_TOKENS',
  },
  refreshReuseGraceSeconds: {
    doc: 'Seconds during which the same client may present a just-rotated refresh token again and get the same answer (0: any reuse revokes the grant).',
    format: (value: unknown) => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 300)
        throw new Error('must be a whole number between 0 and 300');
    },
    default: 0,
    env: 'REFRESH_REUSE_GRACE_SECONDS',
  },
  grantIdleDays: {
    doc: "Days a grant survives without a refresh before it is forgotten (it also ends when Webex's refresh token would).",
    format: isPositiveInt(3650),
    default: 30,
    env: 'GRANT_IDLE_DAYS',
  },
  consoleAdmins: {
    doc: 'Space- or comma-separated emails who see and revoke every grant of their own org in the grants console (others see the grants they approved).',
    format: isString,
    default: '',
    env: 'CONSOLE_ADMINS',
  },
  rateLimitRefreshes: {
    doc: 'Refresh-token requests allowed per client and source address per window.',
    format: isPositiveInt(100_000),
    default: 30,
    env: 'RATE_LIMIT_REFRESHES',
  },
  bodyLimitBytes: {
    doc: 'Largest accepted request body in bytes.',
    format: isPositiveInt(1_048_576),
    default: 16_384,
    env: 'BODY_LIMIT_BYTES',
  },
  shutdownGraceSeconds: {
    doc: 'Seconds in-flight requests get to finish after SIGTERM.',
    format: isPositiveInt(600),
    default: 25,
    env: 'SHUTDOWN_GRACE_SECONDS',
  },
  workloadIssuers: {
    doc: 'OIDC issuers of CI jobs whose ID tokens are trusted: JSON array of "github", "gitlab" or {"name","issuer","audience"} (audience default PUBLIC_URL). Empty: off.',
    format: isWorkloadIssuers,
    default: '',
    env: 'WORKLOAD_ISSUERS',
  },
  workloadAlgorithms: {
    doc: 'Signature algorithms accepted on CI ID tokens (asymmetric only: RS*, PS*, ES*, EdDSA).',
    format: isWorkloadAlgorithms,
    default: DEFAULT_WORKLOAD_ALGORITHMS,
    env: 'WORKLOAD_ALGORITHMS',
  },
  workloadMaxTokenAgeSeconds: {
    doc: 'Oldest CI ID token accepted, in seconds since it was issued (iat).',
    format: isPositiveInt(86_400),
    default: 900,
    env: 'WORKLOAD_MAX_TOKEN_AGE_SECONDS',
  },
  configFile: {
    doc: 'Comma-separated JSON config files (relative paths resolve under config/).',
    format: isString,
    default: '',
    env: 'CONFIG_FILE',
  },
} as const;

export type ConfigKey = keyof typeof configSchema;

/** Env variable names the schema knows, e.g. for the Helm chart test. */
export const configEnvNames: readonly string[] = Object.values(configSchema).map((k) => k.env);

/** The resolved configuration the rest of the app receives. */
export interface AppConfig {
  env: 'production' | 'development' | 'test';
  port: number;
  /** 0: /metrics on the main port; otherwise only on this one. */
  metricsPort: number;
  host: string;
  publicUrl: string;
  /** True when PUBLIC_URL is https: Secure/__Host- cookies and HSTS. */
  secure: boolean;
  redirectUri: string;
  clientId: string;
  clientSecret: string;
  scopesMode: 'dynamic' | 'static';
  staticScopes: string[];
  allowedScopes: string[];
  webex: {
    authorizeUrl: string;
    tokenUrl: string;
    apiUrl: string;
    timeoutMs: number;
    /** Egress proxy for calls to Webex; empty strings when unset. */
    proxy: { httpsProxy: string; httpProxy: string; noProxy: string };
  };
  /** Added to sign-ins whose scopes cannot read people/me; null: never (IDENTITY_SCOPE=none). */
  identityScope: string | null;
  sandbox: boolean;
  redis: RedisConfig | null;
  encryptionKeys: Buffer[];
  trustProxy: boolean;
  /** Allowed orgs as lowercase UUIDs, whichever form the operator wrote. */
  allowedOrgIds: string[];
  logLevel: string;
  flowTtlSeconds: number;
  device: {
    ttlSeconds: number;
    intervalSeconds: number;
    maxWaitSeconds: number;
    clients: DeviceClientConfig[];
  };
  rateLimit: {
    windowSeconds: number;
    deviceAuthorizations: number;
    userCodeFailures: number;
    userCodeEntriesPerCode: number;
    userCodeGlobalFailures: number;
    starts: number;
    refreshes: number;
  };
  grants: {
    /** Who keeps Webex's refresh token: the service (managed) or the script (webex). */
    refreshTokens: 'managed' | 'webex';
    reuseGraceSeconds: number;
    idleDays: number;
    /** Lower-cased emails that see every grant of their org. */
    consoleAdmins: string[];
  };
  bodyLimitBytes: number;
  shutdownGraceSeconds: number;
  /** CI workload identity; `issuers` empty means the feature is off. */
  workload: WorkloadPolicy;
}

/** Thrown for any configuration problem; the message is one line for the operator. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SANDBOX_CLIENT_ID = 'sandbox-client-id';
const SANDBOX_CLIENT_SECRET = 'sandbox-client-secret-not-for-production';

export interface LoadConfigOptions {
  /** Directory holding CONFIG_FILE entries; default `<project>/config`. */
  configDir?: string;
}

/**
 * Validate the environment against the schema and resolve derived values.
 * Throws ConfigError with one line naming the env variable and what is expected.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  options: LoadConfigOptions = {},
): AppConfig {
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) cleanEnv[k] = v;
  // Proxy variables are written in either case by convention; the upper-case one wins.
  for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']) {
    const lower = cleanEnv[name.toLowerCase()];
    if (cleanEnv[name] === undefined && lower !== undefined) cleanEnv[name] = lower;
  }

  const conf = convict(configSchema as unknown as convict.Schema<Record<string, unknown>>, {
    env: cleanEnv,
    args: [],
  });

  const configFile = String(conf.get('configFile' as never) ?? '');
  if (configFile) {
    const dir = options.configDir ?? path.resolve(__dirname, '..', 'config');
    const files = configFile.split(',').map((f) => path.resolve(dir, f.trim()));
    for (const file of files) {
      if (!fs.existsSync(file)) {
        throw new ConfigError(`CONFIG_FILE: ${file} does not exist`);
      }
    }
    try {
      conf.loadFile(files);
    } catch (err) {
      throw new ConfigError(`CONFIG_FILE: could not read it as JSON (${(err as Error).message})`);
    }
  }

  try {
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(describeValidationError((err as Error).message));
  }

  const get = <K extends ConfigKey>(key: K): unknown => conf.get(key as never);
  return resolve(get);
}

function describeValidationError(message: string): string {
  const first = message.split('\n')[0] ?? message;
  const match = /^([A-Za-z]+): (.*)$/.exec(first);
  if (!match) return `Invalid configuration: ${first}`;
  const key = match[1] as string;
  const spec = (configSchema as Record<string, { env: string; sensitive?: boolean }>)[key];
  if (!spec) return `Invalid configuration file: unknown setting "${key}"`;
  let detail = match[2] ?? '';
  if (spec.sensitive) detail = detail.replace(/: value was .*$/, '');
  return `Invalid configuration: ${spec.env} ${detail}`;
}

function words(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((w) => w.trim())
    .filter(Boolean);
}

function resolve(get: (key: ConfigKey) => unknown): AppConfig {
  const envName = get('env') as AppConfig['env'];
  const port = get('port') as number;
  const sandbox = toBoolean(get('sandbox'));
  const production = envName === 'production';
  if (production && sandbox) {
    throw new ConfigError(
      'Invalid configuration: SANDBOX=true is refused when NODE_ENV=production (the simulated Webex lets anyone sign in); remove SANDBOX, or run the demo with NODE_ENV=development',
    );
  }
  if (production && get('metricsPort') === 0) {
    throw new ConfigError(
      'Invalid configuration: METRICS_PORT must be set in production, so /metrics stays off the public port; e.g. METRICS_PORT=9090 (the Helm chart sets it) and scrape that port inside the cluster',
    );
  }

  const publicUrl = ((get('publicUrl') as string) || `http://localhost:${port}`).replace(
    /\/+$/,
    '',
  );
  const secure = publicUrl.startsWith('https:');
  if (production && !secure && !toBoolean(get('allowHttpPublicUrl'))) {
    throw new ConfigError(
      `Invalid configuration: PUBLIC_URL must be https:// in production (got ${publicUrl}); set ALLOW_HTTP_PUBLIC_URL=true only if TLS ends at a trusted hop`,
    );
  }
  const redirectUri = (get('redirectUri') as string) || `${publicUrl}/oauth`;

  let clientId = get('clientId') as string;
  let clientSecret = get('clientSecret') as string;
  if (production && (!clientId || !clientSecret)) {
    throw new ConfigError(
      `Invalid configuration: ${!clientId ? 'CLIENT_ID' : 'CLIENT_SECRET'} is required in production; copy it from your integration on developer.webex.com`,
    );
  }
  if (sandbox) {
    clientId ||= SANDBOX_CLIENT_ID;
    clientSecret ||= SANDBOX_CLIENT_SECRET;
  }

  const sandboxBase = `${publicUrl}/sandbox/v1`;
  const webex = {
    authorizeUrl:
      (get('webexAuthorizeUrl') as string) ||
      (sandbox ? `${sandboxBase}/authorize` : 'https://webexapis.com/v1/authorize'),
    tokenUrl:
      (get('webexTokenUrl') as string) ||
      (sandbox ? `${sandboxBase}/access_token` : 'https://webexapis.com/v1/access_token'),
    apiUrl: (
      (get('webexApiUrl') as string) || (sandbox ? sandboxBase : 'https://webexapis.com/v1')
    ).replace(/\/+$/, ''),
    timeoutMs: get('webexTimeoutMs') as number,
    proxy: {
      httpsProxy: get('httpsProxy') as string,
      httpProxy: get('httpProxy') as string,
      noProxy: get('noProxy') as string,
    },
  };

  const scopesMode = get('scopesMode') as AppConfig['scopesMode'];
  const staticScopes = parseConfiguredScopes('SCOPES', get('scopes') as string);
  if (scopesMode === 'static' && staticScopes.length === 0) {
    throw new ConfigError(
      'Invalid configuration: SCOPES must list at least one scope when SCOPES_MODE=static',
    );
  }
  const rawAllowed = get('allowedScopes') as string;
  if (production && scopesMode === 'dynamic' && words(rawAllowed).length === 0) {
    throw new ConfigError(
      'Invalid configuration: ALLOWED_SCOPES is required in production with SCOPES_MODE=dynamic: copy the scope list ticked on your integration at developer.webex.com (Webex refuses a sign-in that asks for any other scope with invalid_scope)',
    );
  }
  const allowedScopes = parseConfiguredScopes('ALLOWED_SCOPES', rawAllowed, {
    defaultToCatalog: true,
  });

  const identitySetting = get('identityScope') as string;
  const identityScope = identitySetting === 'none' ? null : identitySetting;
  const allowedOrgIds = parseOrgIds(get('allowedOrgIds') as string);
  if (identityScope === null && allowedOrgIds.length > 0) {
    throw new ConfigError(
      'Invalid configuration: ALLOWED_ORG_IDS cannot be set with IDENTITY_SCOPE=none: without a people-reading scope the service cannot learn which organization signed in; unset IDENTITY_SCOPE or ALLOWED_ORG_IDS',
    );
  }
  if (
    production &&
    scopesMode === 'dynamic' &&
    identityScope !== null &&
    !allowedScopes.includes(identityScope)
  ) {
    throw new ConfigError(
      `Invalid configuration: ALLOWED_SCOPES must include ${identityScope}: the service adds it when the picked scopes cannot read who signed in, so tick it on the integration too (or set IDENTITY_SCOPE=none)`,
    );
  }

  const redisUrl = get('redisUrl') as string;
  const encryptionKeys = words(get('tokenEncryptionKey') as string).map((k) =>
    Buffer.from(k, 'base64'),
  );
  if (redisUrl && encryptionKeys.length === 0) {
    throw new ConfigError(
      'Invalid configuration: TOKEN_ENCRYPTION_KEY is required with REDIS_URL; generate one with: openssl rand -base64 32',
    );
  }

  if (production && allowedOrgIds.length === 0 && !toBoolean(get('allowAnyOrg'))) {
    throw new ConfigError(
      'Invalid configuration: ALLOWED_ORG_IDS is empty in production, so an admin of any Webex org could approve a code seen in some CI log; list your org IDs (the UUID Control Hub shows, or the base64 orgId of people/me), or set ALLOW_ANY_ORG=true on purpose',
    );
  }

  const rawClients = get('deviceClients');
  const clients = (
    typeof rawClients === 'string' ? JSON.parse(rawClients) : rawClients
  ) as DeviceClientConfig[];
  for (const client of clients) {
    if (client.scopes)
      parseConfiguredScopes(`DEVICE_CLIENTS (${client.id})`, client.scopes.join(' '));
  }

  return {
    env: envName,
    port,
    metricsPort: get('metricsPort') as number,
    host: get('host') as string,
    publicUrl,
    secure,
    redirectUri,
    clientId,
    clientSecret,
    scopesMode,
    staticScopes,
    allowedScopes,
    webex,
    sandbox,
    redis: redisUrl ? redisConfig(redisUrl, get) : null,
    encryptionKeys,
    trustProxy: toBoolean(get('trustProxy')),
    identityScope,
    allowedOrgIds,
    logLevel: get('logLevel') as string,
    flowTtlSeconds: get('flowTtlSeconds') as number,
    device: {
      ttlSeconds: get('deviceCodeTtlSeconds') as number,
      intervalSeconds: get('devicePollIntervalSeconds') as number,
      maxWaitSeconds: get('deviceMaxWaitSeconds') as number,
      clients,
    },
    rateLimit: {
      windowSeconds: get('rateLimitWindowSeconds') as number,
      deviceAuthorizations: get('rateLimitDeviceAuthorizations') as number,
      userCodeFailures: get('rateLimitUserCodeFailures') as number,
      userCodeEntriesPerCode: get('rateLimitUserCodeEntriesPerCode') as number,
      userCodeGlobalFailures: get('rateLimitUserCodeGlobalFailures') as number,
      starts: get('rateLimitStarts') as number,
      refreshes: get('rateLimitRefreshes') as number,
    },
    grants: {
      refreshTokens: get('refreshTokens') as AppConfig['grants']['refreshTokens'],
      reuseGraceSeconds: get('refreshReuseGraceSeconds') as number,
      idleDays: get('grantIdleDays') as number,
      consoleAdmins: words(get('consoleAdmins') as string).map((e) => e.toLowerCase()),
    },
    bodyLimitBytes: get('bodyLimitBytes') as number,
    shutdownGraceSeconds: get('shutdownGraceSeconds') as number,
    workload: {
      issuers: parseWorkloadIssuers(get('workloadIssuers'), publicUrl),
      algorithms: parseWorkloadAlgorithms(get('workloadAlgorithms') as string),
      maxTokenAgeSeconds: get('workloadMaxTokenAgeSeconds') as number,
    },
  };
}

function redisConfig(url: string, get: (key: ConfigKey) => unknown): RedisConfig {
  const mode = get('redisMode') as RedisMode;
  const seeds = url.split(',').filter((s) => s.trim() !== '');
  if (mode === 'standalone' && seeds.length > 1) {
    throw new ConfigError(
      'Invalid configuration: REDIS_URL lists several servers but REDIS_MODE is standalone; set REDIS_MODE=cluster (seed nodes) or REDIS_MODE=sentinel (sentinels), or give one URL.',
    );
  }
  const wait = get('redisWaitReplicas') as string | number;
  const waitTimeoutMs = get('redisWaitTimeoutMs') as number;
  const commandTimeoutMs = get('redisCommandTimeoutMs') as number;
  return {
    mode,
    url,
    prefix: get('redisPrefix') as string,
    commandTimeoutMs,
    password: get('redisPassword') as string,
    sentinelName: get('redisSentinelName') as string,
    sentinelPassword: get('redisSentinelPassword') as string,
    tlsCaFile: get('redisTlsCaFile') as string,
    waitReplicas: wait === 'auto' ? (mode === 'standalone' ? 0 : 1) : Number(wait),
    waitTimeoutMs,
  };
}

function parseOrgIds(value: string): string[] {
  const ids: string[] = [];
  for (const word of words(value)) {
    const uuid = orgUuid(word);
    if (!uuid) {
      throw new ConfigError(
        `Invalid configuration: ALLOWED_ORG_IDS entry "${word.slice(0, 80)}" is not a Webex org id: use the UUID shown in Control Hub (Management > Account) or its base64 API form`,
      );
    }
    if (!ids.includes(uuid)) ids.push(uuid);
  }
  return ids;
}

function parseConfiguredScopes(
  envName: string,
  value: string,
  opts: { defaultToCatalog?: boolean } = {},
): string[] {
  const result = parseScopeList(value, { defaultToCatalog: opts.defaultToCatalog ?? false });
  if (result.unknown.length > 0) {
    throw new ConfigError(
      `Invalid configuration: ${envName} has entries that are not usable Webex scopes (expected prefix:name, never spark:all): ${result.unknown.join(' ')}`,
    );
  }
  const replaced = result.scopes
    .map((scope) => ({ scope, reason: replacedScopeReason(scope) }))
    .filter((r) => r.reason !== null);
  if (replaced.length > 0) {
    throw new ConfigError(
      `Invalid configuration: ${envName}: ${replaced.map((r) => `${r.scope} ${r.reason}`).join('; ')}`,
    );
  }
  return result.scopes;
}
