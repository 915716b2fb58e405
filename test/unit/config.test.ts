import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from '@jest/globals';
import { ConfigError, configEnvNames, configSchema, loadConfig } from '../../src/config';

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
      ALLOWED_ORG_IDS: 'org-a, org-b',
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
      RATE_LIMIT_STARTS: '5',
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
    });
    assert.equal(c.sandbox, false);
    assert.deepEqual(c.redis, {
      url: 'redis://127.0.0.1:6390/2',
      prefix: 'x:',
      commandTimeoutMs: 700,
    });
    assert.equal(c.encryptionKeys.length, 2);
    assert.equal(c.trustProxy, true);
    assert.deepEqual(c.allowedOrgIds, ['org-a', 'org-b']);
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
      starts: 5,
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

  const bad: [string, Record<string, string>, RegExp][] = [
    ['port', { PORT: 'eighty' }, /^Invalid configuration: PORT /],
    ['public url', { PUBLIC_URL: 'not a url' }, /PUBLIC_URL must be an absolute http\(s\) URL/],
    ['redirect uri', { REDIRECT_URI: 'ftp://x/oauth' }, /REDIRECT_URI must use http or https/],
    ['mode', { SCOPES_MODE: 'both' }, /SCOPES_MODE/],
    ['static without scopes', { SCOPES_MODE: 'static' }, /SCOPES must list at least one scope/],
    ['spark:all', { SCOPES_MODE: 'static', SCOPES: 'spark:all' }, /SCOPES .*spark:all/],
    ['malformed scope', { ALLOWED_SCOPES: 'hello' }, /ALLOWED_SCOPES .*hello/],
    ['redis url', { REDIS_URL: 'http://redis' }, /REDIS_URL must be a redis:\/\//],
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
      'REDIS_URL',
      'TOKEN_ENCRYPTION_KEY',
    ]);
    assert.equal(new Set(configEnvNames).size, configEnvNames.length, 'env names are unique');
  });
});
