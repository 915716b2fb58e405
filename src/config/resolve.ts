/**
 * From validated settings to the AppConfig: defaults that depend on other settings, parsed
 * lists, and the checks that need more than one setting (production's above all).
 */
import { orgUuid } from '../webex/org-id';
import { parseScopeList, replacedScopeReason } from '../webex/scopes';
import { parseWorkloadAlgorithms, parseWorkloadIssuers } from '../workload/issuers';
import {
  ConfigError,
  type AppConfig,
  type DeviceClientConfig,
  type RedisConfig,
} from './app-config';
import { toBoolean } from './formats';
import type { ConfigValues } from './schema';

const SANDBOX_CLIENT_ID = 'sandbox-client-id';
const SANDBOX_CLIENT_SECRET = 'sandbox-client-secret-not-for-production';

function words(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((w) => w.trim())
    .filter(Boolean);
}

export function resolve(values: ConfigValues): AppConfig {
  const envName = values.env;
  const port = values.port;
  const sandbox = toBoolean(values.sandbox);
  const production = envName === 'production';
  if (production && sandbox) {
    throw new ConfigError(
      'Invalid configuration: SANDBOX=true is refused when NODE_ENV=production (the simulated Webex lets anyone sign in); remove SANDBOX, or run the demo with NODE_ENV=development',
    );
  }
  if (production && values.metricsPort === 0) {
    throw new ConfigError(
      'Invalid configuration: METRICS_PORT must be set in production, so /metrics stays off the public port; e.g. METRICS_PORT=9090 (the Helm chart sets it) and scrape that port inside the cluster',
    );
  }

  const publicUrl = (values.publicUrl || `http://localhost:${port}`).replace(/\/+$/, '');
  const secure = publicUrl.startsWith('https:');
  if (production && !secure && !toBoolean(values.allowHttpPublicUrl)) {
    throw new ConfigError(
      `Invalid configuration: PUBLIC_URL must be https:// in production (got ${publicUrl}); set ALLOW_HTTP_PUBLIC_URL=true only if TLS ends at a trusted hop`,
    );
  }
  const redirectUri = values.redirectUri || `${publicUrl}/oauth`;

  let clientId = values.clientId;
  let clientSecret = values.clientSecret;
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
      values.webexAuthorizeUrl ||
      (sandbox ? `${sandboxBase}/authorize` : 'https://webexapis.com/v1/authorize'),
    tokenUrl:
      values.webexTokenUrl ||
      (sandbox ? `${sandboxBase}/access_token` : 'https://webexapis.com/v1/access_token'),
    apiUrl: (values.webexApiUrl || (sandbox ? sandboxBase : 'https://webexapis.com/v1')).replace(
      /\/+$/,
      '',
    ),
    timeoutMs: values.webexTimeoutMs,
    proxy: {
      httpsProxy: values.httpsProxy,
      httpProxy: values.httpProxy,
      noProxy: values.noProxy,
    },
  };

  const scopesMode = values.scopesMode;
  const staticScopes = parseConfiguredScopes('SCOPES', values.scopes);
  if (scopesMode === 'static' && staticScopes.length === 0) {
    throw new ConfigError(
      'Invalid configuration: SCOPES must list at least one scope when SCOPES_MODE=static',
    );
  }
  const rawAllowed = values.allowedScopes;
  if (production && scopesMode === 'dynamic' && words(rawAllowed).length === 0) {
    throw new ConfigError(
      'Invalid configuration: ALLOWED_SCOPES is required in production with SCOPES_MODE=dynamic: copy the scope list ticked on your integration at developer.webex.com (Webex refuses a sign-in that asks for any other scope with invalid_scope)',
    );
  }
  const allowedScopes = parseConfiguredScopes('ALLOWED_SCOPES', rawAllowed, {
    defaultToCatalog: true,
  });

  const identitySetting = values.identityScope;
  const identityScope = identitySetting === 'none' ? null : identitySetting;
  const allowedOrgIds = parseOrgIds(values.allowedOrgIds);
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

  const redisUrl = values.redisUrl;
  const encryptionKeys = words(values.tokenEncryptionKey).map((k) => Buffer.from(k, 'base64'));
  if (redisUrl && encryptionKeys.length === 0) {
    throw new ConfigError(
      'Invalid configuration: TOKEN_ENCRYPTION_KEY is required with REDIS_URL; generate one with: openssl rand -base64 32',
    );
  }

  if (production && allowedOrgIds.length === 0 && !toBoolean(values.allowAnyOrg)) {
    throw new ConfigError(
      'Invalid configuration: ALLOWED_ORG_IDS is empty in production, so an admin of any Webex org could approve a code seen in some CI log; list your org IDs (the UUID Control Hub shows, or the base64 orgId of people/me), or set ALLOW_ANY_ORG=true on purpose',
    );
  }

  const rawClients = values.deviceClients;
  // The format checked the shape, whether it came as JSON text (env) or as an array (file).
  const clients: DeviceClientConfig[] =
    typeof rawClients === 'string' ? (JSON.parse(rawClients) as DeviceClientConfig[]) : rawClients;
  for (const client of clients) {
    if (client.scopes)
      parseConfiguredScopes(`DEVICE_CLIENTS (${client.id})`, client.scopes.join(' '));
  }

  return {
    env: envName,
    port,
    metricsPort: values.metricsPort,
    host: values.host,
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
    redis: redisUrl ? redisConfig(redisUrl, values) : null,
    encryptionKeys,
    trustProxy: toBoolean(values.trustProxy),
    identityScope,
    allowedOrgIds,
    logLevel: values.logLevel,
    flowTtlSeconds: values.flowTtlSeconds,
    device: {
      ttlSeconds: values.deviceCodeTtlSeconds,
      intervalSeconds: values.devicePollIntervalSeconds,
      maxWaitSeconds: values.deviceMaxWaitSeconds,
      clients,
    },
    rateLimit: {
      windowSeconds: values.rateLimitWindowSeconds,
      deviceAuthorizations: values.rateLimitDeviceAuthorizations,
      userCodeFailures: values.rateLimitUserCodeFailures,
      userCodeEntriesPerCode: values.rateLimitUserCodeEntriesPerCode,
      userCodeGlobalFailures: values.rateLimitUserCodeGlobalFailures,
      starts: values.rateLimitStarts,
      refreshes: values.rateLimitRefreshes,
      exchangeFailures: values.rateLimitExchangeFailures,
    },
    grants: {
      refreshTokens: values.refreshTokens,
      reuseGraceSeconds: values.refreshReuseGraceSeconds,
      idleDays: values.grantIdleDays,
      consoleAdmins: words(values.consoleAdmins).map((e) => e.toLowerCase()),
    },
    bodyLimitBytes: values.bodyLimitBytes,
    shutdownGraceSeconds: values.shutdownGraceSeconds,
    workload: {
      issuers: parseWorkloadIssuers(values.workloadIssuers, publicUrl),
      algorithms: parseWorkloadAlgorithms(values.workloadAlgorithms),
      maxTokenAgeSeconds: values.workloadMaxTokenAgeSeconds,
    },
  };
}

function redisConfig(url: string, values: ConfigValues): RedisConfig {
  const mode = values.redisMode;
  const seeds = url.split(',').filter((s) => s.trim() !== '');
  if (mode === 'standalone' && seeds.length > 1) {
    throw new ConfigError(
      'Invalid configuration: REDIS_URL lists several servers but REDIS_MODE is standalone; set REDIS_MODE=cluster (seed nodes) or REDIS_MODE=sentinel (sentinels), or give one URL.',
    );
  }
  const wait = values.redisWaitReplicas;
  const waitTimeoutMs = values.redisWaitTimeoutMs;
  const commandTimeoutMs = values.redisCommandTimeoutMs;
  return {
    mode,
    url,
    prefix: values.redisPrefix,
    commandTimeoutMs,
    password: values.redisPassword,
    sentinelName: values.redisSentinelName,
    sentinelPassword: values.redisSentinelPassword,
    tlsCaFile: values.redisTlsCaFile,
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
