/** The resolved configuration the rest of the service receives, and the error for bad settings. */
import type { WorkloadPolicy } from '../workload/issuers';
import type { ConfigValues } from './schema';

export type RedisMode = ConfigValues['redisMode'];

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

/** The resolved configuration the rest of the service receives. */
export interface AppConfig {
  env: ConfigValues['env'];
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
  scopesMode: ConfigValues['scopesMode'];
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
    /** Failed token exchanges per address (RFC 8693), never fewer than 30 a minute. */
    exchangeFailures: number;
  };
  grants: {
    /** Who keeps Webex's refresh token: the service (managed) or the script (webex). */
    refreshTokens: ConfigValues['refreshTokens'];
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
