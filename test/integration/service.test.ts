import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from '@jest/globals';
import { loadConfig } from '../../src/config';
import { buildService, type ServiceOverrides } from '../../src/service';
import { pollToken, requestHandoff } from '../helpers/admin';
import { captureLogger, startTestServer } from '../helpers/server';
import { fakeClock } from '../helpers/time';

/** buildService's app on a loopback port; answers the status of GET `path`. */
async function statusOf(overrides: ServiceOverrides, path: string): Promise<number> {
  const config = loadConfig({ NODE_ENV: 'test', SANDBOX: 'true', LOG_LEVEL: 'warn' });
  const service = await buildService(config, { logger: captureLogger([]), ...overrides });
  const server = http.createServer(service.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
  } finally {
    server.close();
    await service.close();
  }
}

test('SANDBOX=true mounts the simulated Webex; sandbox: null leaves it out', async () => {
  const consent = '/sandbox/v1/authorize?client_id=sandbox-client-id';
  assert.notEqual(await statusOf({}, consent), 404, 'mounted by default');
  assert.equal(await statusOf({ sandbox: null }, consent), 404, 'not mounted');
});

test('readFormBodies swaps the form reader of every route (the bench A/B), with its limit', async () => {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn' });
  const limits: number[] = [];
  const paths: string[] = [];
  const service = await buildService(config, {
    logger: captureLogger([]),
    readFormBodies: (limitBytes) => {
      limits.push(limitBytes);
      return (ctx, next) => {
        paths.push(ctx.path);
        (ctx.request as { body?: unknown }).body = { grant_type: 'swapped-reader' };
        return next();
      };
    },
  });
  const server = http.createServer(service.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token',
    });
    const body = (await res.json()) as { error: string };
    assert.equal(res.status, 400);
    // The real body names a supported grant type: only the swapped reader's answers this.
    assert.equal(body.error, 'unsupported_grant_type');
    assert.deepEqual(limits, [config.bodyLimitBytes]);
    assert.deepEqual(paths, ['/oauth2/token']);
  } finally {
    server.close();
    await service.close();
  }
});

test('process metrics are collected unless defaultMetrics is false', async () => {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn' });
  const names = async (overrides: ServiceOverrides) => {
    const service = await buildService(config, { logger: captureLogger([]), ...overrides });
    const text = await service.metrics.registry.metrics();
    await service.close();
    return text;
  };
  assert.match(await names({}), /process_resident_memory_bytes/);
  assert.doesNotMatch(await names({ defaultMetrics: false }), /process_resident_memory_bytes/);
});

test('the flows run on the injected clock', async () => {
  const clock = fakeClock();
  const srv = await startTestServer({ store: 'memory', now: clock.now });
  try {
    const auth = await requestHandoff(srv.url);
    assert.equal(auth.status, 200, JSON.stringify(auth.json));
    clock.advance((Number(auth.json.expires_in) + 1) * 1000);
    const poll = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
    assert.equal(poll.json.error, 'expired_token', JSON.stringify(poll.json));
  } finally {
    await srv.close();
  }
});
