/** Part of the configuration schema (schema.ts): the HTTP server, sign-in and calls to Webex. */
import { isBoolean, isPositiveInt, isString, isUrl, type Setting } from './formats';

export const webexSettings = {
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
} as const satisfies Record<string, Setting>;
