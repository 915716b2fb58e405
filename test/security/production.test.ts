/**
 * Production defaults: the service refuses to start in a shape that would let strangers in
 * (sandbox sign-ins, any org's admins, /metrics on the public port), and says what to do.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import { ConfigError, loadConfig } from '../../src/config';
import { buildService, startService } from '../../src/service';

const PROD = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://tokens.example.com',
  CLIENT_ID: 'id',
  CLIENT_SECRET: 'secret',
  ALLOWED_ORG_IDS: '6f5d3c2b-1a09-4e8f-9d7c-6b5a4f3e2d1c',
  ALLOWED_SCOPES: 'spark-admin:people_read spark:people_read',
  METRICS_PORT: '9090',
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'silent',
};

test('startService refuses production with the sandbox, any org or public metrics, naming the fix', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ SANDBOX: 'true' }, /SANDBOX=true is refused.*remove SANDBOX/],
    [{ ALLOWED_ORG_IDS: '' }, /ALLOWED_ORG_IDS is empty in production.*ALLOW_ANY_ORG=true/],
    [{ METRICS_PORT: '0' }, /METRICS_PORT must be set in production.*METRICS_PORT=9090/],
  ];
  for (const [change, message] of cases) {
    // A service that starts anyway is stopped again, so a missing refusal fails instead of hanging.
    const attempt = startService({ ...PROD, ...change }).then(async (running) => {
      await running.shutdown();
      throw new Error('the service started');
    });
    await assert.rejects(
      attempt,
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
      JSON.stringify(change),
    );
  }
});

test('in production the public app never serves /metrics, whatever the config says', async () => {
  const config = { ...loadConfig(PROD), metricsPort: 0 };
  const service = await buildService(config, {
    logger: pino({ level: 'silent' }),
    defaultMetrics: false,
  });
  const server = http.createServer(service.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 404);
    assert.doesNotMatch(await res.text(), /wst_/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'the probes stay');
  } finally {
    server.close();
    await service.close();
  }
});
