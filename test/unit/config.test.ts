import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from '@jest/globals';
import { ConfigError, configEnvNames, configSchema, loadConfig } from '../../src/config';
import { orgApiId } from '../../src/webex/org-id';

const KEY = Buffer.alloc(32, 1).toString('base64');
const KEY2 = Buffer.alloc(32, 2).toString('base64');

function fails(env: Record<string, string>, pattern: RegExp) {
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.match(err.message, pattern);
      assert.equal(err.message.includes('\n'), false, 'one line');
      return true;
    },
  );
}

const ORG_A = '9f1d2c3b-aaaa-4bbb-8ccc-0123456789ab';
const ORG_B = '9f1d2c3b-dddd-4eee-8fff-0123456789ab';

describe('config', () => {
  test('defaults follow the seed: port 8080, callback /oauth, dynamic mode, real Webex URLs', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.publicUrl, 'http://localhost:8080');
    assert.equal(c.redirectUri, 'http://localhost:8080/oauth');
    assert.equal(c.scopesMode, 'dynamic');
    assert.equal(c.webex.authorizeUrl, 'https://webexapis.com/v1/authorize');
    assert.equal(c.webex.tokenUrl, 'https://webexapis.com/v1/access_token');
    assert.equal(c.webex.apiUrl, 'https://webexapis.com/v1');
    assert.equal(c.redis, null);
    assert.ok(c.allowedScopes.length > 50, 'the whole catalog by default');
    assert.equal(c.allowedScopes.includes('spark:all'), false);
    assert.deepEqual(
      c.device.clients.map((x) => x.id),
      ['cli'],
    );
  });

  test('every documented env var is honoured', () => {
    const c = loadConfig({
      NODE_ENV: 'test',
      PORT: '9090',
      HOST: '127.0.0.1',
      PUBLIC_URL: 'https://tokens.example.com/',
      REDIRECT_URI: 'https://tokens.example.com/callback',
      CLIENT_ID: 'cid',
      CLIENT_SECRET: 'csecret',
      SCOPES_MODE: 'static',
      SCOPES: 'spark-admin:people_read spark-compliance:rooms_read',
      ALLOWED_SCOPES: 'spark-admin:people_read spark-admin:devices_read',
      WEBEX_AUTHORIZE_URL: 'https://idp.example/authorize',
      WEBEX_TOKEN_URL: 'https://idp.example/token',
      WEBEX_API_URL: 'https://api.example/v1/',
      WEBEX_TIMEOUT_MS: '1234',
      SANDBOX: 'false',
      REDIS_URL: 'redis://127.0.0.1:6390/2',
      REDIS_PREFIX: 'x:',
      REDIS_COMMAND_TIMEOUT_MS: '700',
      TOKEN_ENCRYPTION_KEY: `${KEY},${KEY2}`,
      TRUST_PROXY: 'true',
      ALLOWED_ORG_IDS: `${ORG_A}, ${orgApiId(ORG_B)}`,
      IDENTITY_SCOPE: 'spark:people_read',
      HTTPS_PROXY: 'http://proxy.example:3128',
      HTTP_PROXY: 'http://proxy.example:3129',
      NO_PROXY: '.internal.example',
      LOG_LEVEL: 'warn',
      FLOW_TTL_SECONDS: '120',
      DEVICE_CODE_TTL_SECONDS: '300',
      DEVICE_POLL_INTERVAL_SECONDS: '7',
      DEVICE_MAX_WAIT_SECONDS: '20',
      DEVICE_CLIENTS:
        '[{"id":"ci","name":"CI","secret":"0123456789abcdef0","scopes":["spark-admin:people_read"]}]',
      RATE_LIMIT_WINDOW_SECONDS: '30',
      RATE_LIMIT_DEVICE_AUTHORIZATIONS: '3',
      RATE_LIMIT_USER_CODE_FAILURES: '4',
      RATE_LIMIT_USER_CODE_ENTRIES_PER_CODE: '6',
      RATE_LIMIT_USER_CODE_GLOBAL_FAILURES: '70',
      RATE_LIMIT_STARTS: '5',
      RATE_LIMIT_REFRESHES: '6',
      RATE_LIMIT_EXCHANGE_FAILURES: '45',
      REFRESH_TOKENS: 'webex',
      REFRESH_REUSE_GRACE_SECONDS: '10',
      GRANT_IDLE_DAYS: '11',
      CONSOLE_ADMINS: 'Boss@Example.com, second@example.com',
      BODY_LIMIT_BYTES: '2048',
      SHUTDOWN_GRACE_SECONDS: '9',
      ALLOW_HTTP_PUBLIC_URL: 'false',
    });
    assert.equal(c.env, 'test');
    assert.equal(c.port, 9090);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.publicUrl, 'https://tokens.example.com');
    assert.equal(c.secure, true);
    assert.equal(c.redirectUri, 'https://tokens.example.com/callback');
    assert.equal(c.clientId, 'cid');
    assert.equal(c.clientSecret, 'csecret');
    assert.equal(c.scopesMode, 'static');
    assert.deepEqual(c.staticScopes, ['spark-admin:people_read', 'spark-compliance:rooms_read']);
    assert.deepEqual(c.allowedScopes, ['spark-admin:people_read', 'spark-admin:devices_read']);
    assert.deepEqual(c.webex, {
      authorizeUrl: 'https://idp.example/authorize',
      tokenUrl: 'https://idp.example/token',
      apiUrl: 'https://api.example/v1',
      timeoutMs: 1234,
      proxy: {
        httpsProxy: 'http://proxy.example:3128',
        httpProxy: 'http://proxy.example:3129',
        noProxy: '.internal.example',
      },
    });
    assert.equal(c.identityScope, 'spark:people_read');
    assert.equal(c.sandbox, false);
    assert.deepEqual(c.redis, {
      mode: 'standalone',
      url: 'redis://127.0.0.1:6390/2',
      prefix: 'x:',
      commandTimeoutMs: 700,
      password: '',
      sentinelName: 'mymaster',
      sentinelPassword: '',
      tlsCaFile: '',
      waitReplicas: 0,
      waitTimeoutMs: 500,
    });
    assert.equal(c.encryptionKeys.length, 2);
    assert.equal(c.trustProxy, true);
    assert.deepEqual(c.allowedOrgIds, [ORG_A, ORG_B]);
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.flowTtlSeconds, 120);
    assert.deepEqual(
      {
        ttl: c.device.ttlSeconds,
        interval: c.device.intervalSeconds,
        wait: c.device.maxWaitSeconds,
      },
      { ttl: 300, interval: 7, wait: 20 },
    );
    assert.equal(c.device.clients[0]?.secret, '0123456789abcdef0');
    assert.deepEqual(c.rateLimit, {
      windowSeconds: 30,
      deviceAuthorizations: 3,
      userCodeFailures: 4,
      userCodeEntriesPerCode: 6,
      userCodeGlobalFailures: 70,
      starts: 5,
      refreshes: 6,
      exchangeFailures: 45,
    });
    assert.deepEqual(c.grants, {
      refreshTokens: 'webex',
      reuseGraceSeconds: 10,
      idleDays: 11,
      consoleAdmins: ['boss@example.com', 'second@example.com'],
    });
    assert.equal(c.bodyLimitBytes, 2048);
    assert.equal(c.shutdownGraceSeconds, 9);
  });

  test('CONFIG_FILE loads JSON settings from config/, and env wins over the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-config-'));
    fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify({ logLevel: 'error', port: 7000 }));
    const c = loadConfig({ CONFIG_FILE: 'a.json', PORT: '7001' }, { configDir: dir });
    assert.equal(c.logLevel, 'error');
    assert.equal(c.port, 7001);
    fails({ CONFIG_FILE: 'does-not-exist.json' }, /CONFIG_FILE/);
  });

  test('the shipped config/ files are valid', () => {
    const dir = path.resolve(__dirname, '../../config');
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      assert.doesNotThrow(
        () =>
          loadConfig({
            CONFIG_FILE: file,
            CLIENT_ID: 'x',
            CLIENT_SECRET: 'y',
            PUBLIC_URL: 'https://t.example',
            NODE_ENV: 'test',
          }),
        file,
      );
    }
  });

  test('SANDBOX points Webex at the built-in simulator and needs no credentials', () => {
    const c = loadConfig({ SANDBOX: 'true', PORT: '8081' });
    assert.equal(c.webex.authorizeUrl, 'http://localhost:8081/sandbox/v1/authorize');
    assert.equal(c.webex.tokenUrl, 'http://localhost:8081/sandbox/v1/access_token');
    assert.ok(c.clientId && c.clientSecret);
  });

  test('Redis topologies: seeds, sentinel name, and WAIT replicas per mode', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const cluster = loadConfig({
      REDIS_MODE: 'cluster',
      REDIS_URL: 'rediss://:pw@n1:7000,rediss://:pw@n2:7001',
      TOKEN_ENCRYPTION_KEY: key,
    });
    assert.equal(cluster.redis?.mode, 'cluster');
    assert.equal(cluster.redis?.url, 'rediss://:pw@n1:7000,rediss://:pw@n2:7001');
    assert.equal(cluster.redis?.waitReplicas, 1);
    const sentinel = loadConfig({
      REDIS_MODE: 'sentinel',
      REDIS_URL: 'redis://s1:26379,redis://s2:26379',
      REDIS_SENTINEL_NAME: 'tokens',
      REDIS_WAIT_REPLICAS: '0',
      TOKEN_ENCRYPTION_KEY: key,
    });
    assert.equal(sentinel.redis?.sentinelName, 'tokens');
    assert.equal(sentinel.redis?.waitReplicas, 0);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['port', { PORT: 'eighty' }, /^Invalid configuration: PORT /],
    ['public url', { PUBLIC_URL: 'not a url' }, /PUBLIC_URL must be an absolute http\(s\) URL/],
    ['redirect uri', { REDIRECT_URI: 'ftp://x/oauth' }, /REDIRECT_URI must use http or https/],
    ['mode', { SCOPES_MODE: 'both' }, /SCOPES_MODE/],
    ['static without scopes', { SCOPES_MODE: 'static' }, /SCOPES must list at least one scope/],
    ['spark:all', { SCOPES_MODE: 'static', SCOPES: 'spark:all' }, /SCOPES .*spark:all/],
    ['malformed scope', { ALLOWED_SCOPES: 'hello' }, /ALLOWED_SCOPES .*hello/],
    ['redis url', { REDIS_URL: 'http://redis' }, /REDIS_URL must be a redis:\/\//],
    ['redis mode', { REDIS_MODE: 'ring' }, /REDIS_MODE/],
    ['redis seed', { REDIS_URL: 'redis://a:1,http://b' }, /REDIS_URL must be a redis:\/\//],
    ['redis wait', { REDIS_WAIT_REPLICAS: 'two' }, /REDIS_WAIT_REPLICAS must be auto or/],
    [
      'seeds in standalone',
      {
        REDIS_URL: 'redis://a:1,redis://b:2',
        TOKEN_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
      },
      /REDIS_URL lists several servers but REDIS_MODE is standalone/,
    ],
    [
      'missing key with redis',
      { REDIS_URL: 'redis://localhost:6379' },
      /TOKEN_ENCRYPTION_KEY is required with REDIS_URL/,
    ],
    [
      'malformed key',
      { TOKEN_ENCRYPTION_KEY: 'not base64 !!' },
      /TOKEN_ENCRYPTION_KEY .*malformed base64/,
    ],
    [
      'short key',
      { TOKEN_ENCRYPTION_KEY: Buffer.alloc(16).toString('base64') },
      /TOKEN_ENCRYPTION_KEY each key must decode to exactly 32 bytes/,
    ],
    ['clients', { DEVICE_CLIENTS: '[{"id":"x"}]' }, /DEVICE_CLIENTS client "x" needs a "name"/],
    ['clients json', { DEVICE_CLIENTS: '{oops' }, /DEVICE_CLIENTS must be a non-empty JSON array/],
    [
      'interval',
      { DEVICE_POLL_INTERVAL_SECONDS: '0' },
      /DEVICE_POLL_INTERVAL_SECONDS must be a whole number between 1 and 60/,
    ],
    ['log level', { LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    ['boolean', { TRUST_PROXY: 'maybe' }, /TRUST_PROXY/],
  ];
  for (const [name, env, pattern] of bad) {
    test(`bad value is refused with the key's name: ${name}`, () => fails(env, pattern));
  }

  test('production dynamic mode requires ALLOWED_SCOPES, holding the identity scope', () => {
    const prod = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://t.example',
      CLIENT_ID: 'id',
      CLIENT_SECRET: 's',
      ALLOWED_ORG_IDS: ORG_A,
      METRICS_PORT: '9090',
    };
    fails(
      prod,
      /ALLOWED_SCOPES is required in production.*copy the scope list ticked on your integration/,
    );
    fails(
      { ...prod, ALLOWED_SCOPES: 'spark-admin:devices_read' },
      /ALLOWED_SCOPES must include spark:people_read.*IDENTITY_SCOPE=none/,
    );
    assert.doesNotThrow(() =>
      loadConfig({
        ...prod,
        ALLOWED_SCOPES: 'spark-admin:devices_read',
        IDENTITY_SCOPE: 'none',
        ALLOWED_ORG_IDS: '',
        ALLOW_ANY_ORG: 'true',
      }),
    );
    assert.doesNotThrow(() =>
      loadConfig({ ...prod, SCOPES_MODE: 'static', SCOPES: 'spark-admin:devices_read' }),
    );
    // Outside production the whole catalog stays the default, for the demo and local runs.
    assert.ok(loadConfig({}).allowedScopes.length > 50);
  });

  test('IDENTITY_SCOPE=none forbids ALLOWED_ORG_IDS', () => {
    assert.equal(loadConfig({ IDENTITY_SCOPE: 'none' }).identityScope, null);
    assert.equal(loadConfig({}).identityScope, 'spark:people_read');
    fails(
      { IDENTITY_SCOPE: 'none', ALLOWED_ORG_IDS: ORG_A },
      /ALLOWED_ORG_IDS cannot be set with IDENTITY_SCOPE=none/,
    );
    fails({ IDENTITY_SCOPE: 'spark:all' }, /IDENTITY_SCOPE/);
  });

  test('ALLOWED_ORG_IDS: UUID and base64 (padded or not, any case) name the same org', () => {
    const b64 = orgApiId(ORG_A);
    const padded = Buffer.from(`ciscospark://us/ORGANIZATION/${ORG_A}`).toString('base64');
    assert.match(padded, /=$/, 'the fixture really is padded');
    for (const form of [ORG_A, ORG_A.toUpperCase(), b64, padded, b64.replace(/\+/g, '-')]) {
      assert.deepEqual(loadConfig({ ALLOWED_ORG_IDS: form }).allowedOrgIds, [ORG_A], form);
    }
    assert.deepEqual(loadConfig({ ALLOWED_ORG_IDS: `${ORG_A} ${b64}` }).allowedOrgIds, [ORG_A]);
    fails(
      { ALLOWED_ORG_IDS: 'org-a' },
      /ALLOWED_ORG_IDS entry "org-a" is not a Webex org id.*Control Hub/,
    );
    fails(
      { ALLOWED_ORG_IDS: Buffer.from('ciscospark://us/PEOPLE/' + ORG_A).toString('base64') },
      /not a Webex org id/,
    );
  });

  test('proxy variables are read in lower case too; upper case wins', () => {
    const lower = loadConfig({ https_proxy: 'http://p.example:1', no_proxy: 'a.example' });
    assert.equal(lower.webex.proxy.httpsProxy, 'http://p.example:1');
    assert.equal(lower.webex.proxy.noProxy, 'a.example');
    const both = loadConfig({
      HTTP_PROXY: 'http://up.example:2',
      http_proxy: 'http://low.example:3',
    });
    assert.equal(both.webex.proxy.httpProxy, 'http://up.example:2');
    fails({ HTTPS_PROXY: 'proxy.example:3128' }, /HTTPS_PROXY/);
  });

  test('renamed and removed catalog scopes are refused with the right name', () => {
    fails(
      { ALLOWED_SCOPES: 'meeting:admin_transcript_read' },
      /meeting:admin_transcript_read is not a Webex scope: Webex names it meeting:admin_transcripts_read/,
    );
    fails(
      { SCOPES_MODE: 'static', SCOPES: 'spark-compliance:transcripts_read' },
      /spark-compliance:transcripts_read does not exist in Webex: ask for spark-compliance:meetings_read/,
    );
  });

  test('a sensitive value is never echoed in the error', () => {
    const secretish = 'c2VjcmV0LXRoYXQtaXMtbm90LTMyLWJ5dGVz';
    assert.throws(
      () => loadConfig({ TOKEN_ENCRYPTION_KEY: secretish }),
      (err: Error) => !err.message.includes(secretish),
    );
  });

  test('production refuses to start without credentials or with an http PUBLIC_URL', () => {
    const prod = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://t.example',
      CLIENT_ID: 'id',
      CLIENT_SECRET: 's',
      ALLOWED_SCOPES: 'spark-admin:devices_read spark:people_read',
      ALLOWED_ORG_IDS: '6f5d3c2b-1a09-4e8f-9d7c-6b5a4f3e2d1c',
      METRICS_PORT: '9090',
    };
    assert.doesNotThrow(() => loadConfig(prod));
    fails({ ...prod, CLIENT_ID: '' }, /CLIENT_ID is required in production/);
    fails({ ...prod, CLIENT_SECRET: '' }, /CLIENT_SECRET is required in production/);
    fails(
      { ...prod, PUBLIC_URL: 'http://t.example' },
      /PUBLIC_URL must be https:\/\/ in production/,
    );
    assert.doesNotThrow(() =>
      loadConfig({ ...prod, PUBLIC_URL: 'http://t.example', ALLOW_HTTP_PUBLIC_URL: 'true' }),
    );
  });

  test('production refuses the sandbox, an empty org list and /metrics on the public port', () => {
    const prod = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://t.example',
      CLIENT_ID: 'id',
      CLIENT_SECRET: 's',
      ALLOWED_ORG_IDS: '6f5d3c2b-1a09-4e8f-9d7c-6b5a4f3e2d1c',
      METRICS_PORT: '9090',
      ALLOWED_SCOPES: 'spark-admin:people_read spark:people_read',
    };
    assert.doesNotThrow(() => loadConfig(prod));
    fails({ ...prod, SANDBOX: 'true' }, /SANDBOX=true is refused when NODE_ENV=production/);
    fails(
      { ...prod, ALLOWED_ORG_IDS: '' },
      /ALLOWED_ORG_IDS is empty in production.*ALLOW_ANY_ORG=true/,
    );
    fails({ ...prod, ALLOWED_ORG_IDS: ' , ' }, /ALLOWED_ORG_IDS is empty in production/);
    assert.deepEqual(
      loadConfig({ ...prod, ALLOWED_ORG_IDS: '', ALLOW_ANY_ORG: 'true' }).allowedOrgIds,
      [],
    );
    fails({ ...prod, ALLOWED_ORG_IDS: '', ALLOW_ANY_ORG: 'ture' }, /ALLOW_ANY_ORG/);
    fails({ ...prod, METRICS_PORT: '0' }, /METRICS_PORT must be set in production/);
    const withoutMetricsPort: Record<string, string> = { ...prod };
    delete withoutMetricsPort.METRICS_PORT;
    fails(withoutMetricsPort, /METRICS_PORT must be set in production/);
    // Outside production the demo defaults keep working.
    assert.doesNotThrow(() => loadConfig({ SANDBOX: 'true' }));
    assert.equal(loadConfig({}).metricsPort, 0);
  });

  test('the schema documents every key, maps it to an env var, and marks secrets sensitive', () => {
    for (const [key, spec] of Object.entries(configSchema)) {
      assert.ok(spec.doc.length > 10, `${key} has a doc`);
      assert.match(spec.env, /^[A-Z][A-Z0-9_]+$/, `${key} has an env name`);
    }
    const sensitive = Object.values(configSchema)
      .filter((s) => 'sensitive' in s && s.sensitive)
      .map((s) => s.env)
      .sort();
    assert.deepEqual(sensitive, [
      'CLIENT_SECRET',
      'DEVICE_CLIENTS',
      'HTTPS_PROXY',
      'HTTP_PROXY',
      'REDIS_PASSWORD',
      'REDIS_SENTINEL_PASSWORD',
      'REDIS_URL',
      'TOKEN_ENCRYPTION_KEY',
    ]);
    assert.equal(new Set(configEnvNames).size, configEnvNames.length, 'env names are unique');
  });
});
