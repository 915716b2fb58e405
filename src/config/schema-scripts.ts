/**
 * Part of the configuration schema (schema.ts): script handoffs, rate limits, grants, workload
 * identity, and where more settings come from.
 */
import { DEFAULT_WORKLOAD_ALGORITHMS } from '../workload/issuers';
import {
  isClientList,
  isPositiveInt,
  isString,
  isWorkloadAlgorithms,
  isWorkloadIssuers,
  isWholeNumber,
  type Setting,
} from './formats';

export const scriptSettings = {
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
    format: isWholeNumber(0, 300),
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
  rateLimitExchangeFailures: {
    doc: 'Failed token exchanges (CI ID tokens that do not verify or match no grant) allowed per source address per window; at least 30, and never fewer than 30 a minute whatever RATE_LIMIT_WINDOW_SECONDS is.',
    format: isWholeNumber(30, 100_000),
    default: 60,
    env: 'RATE_LIMIT_EXCHANGE_FAILURES',
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
} as const satisfies Record<string, Setting>;
