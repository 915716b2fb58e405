import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { startService, type RunningService } from '../../src/main';
import { approveHandoff, decideAtSandbox, pollToken, requestHandoff } from '../helpers/admin';
import { CookieBrowser } from '../helpers/http';
import { freePort, sharedRedis, uniquePrefix, dumpPrefix } from '../helpers/redis';
import { captureLogger, startTestServer, TEST_KEY, type TestServer } from '../helpers/server';
import { spawnService } from '../helpers/process';
import { pollIntervalPassed, until } from '../helpers/time';

describe('health, readiness and metrics', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ env: { DEVICE_POLL_INTERVAL_SECONDS: '1' } });
  });
  afterAll(() => srv.close());

  test('/healthz and /readyz answer 200 with the store up', async () => {
    const h = await fetch(`${srv.url}/healthz`);
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: 'ok' });
    const r = await fetch(`${srv.url}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ready', store: 'ok' });
  });

  test('/metrics counts flows, handoffs, token errors, Webex latency, with no user data in labels', async () => {
    const browser = new CookieBrowser();
    await decideAtSandbox(
      browser,
      await browser.get(`${srv.url}/start?scope=spark-admin:people_read`),
      'accept',
    );
    const auth = await requestHandoff(srv.url);
    await pollToken(srv.url, { device_code: String(auth.json.device_code) });
    await approveHandoff(srv.url, String(auth.json.user_code));
    await pollIntervalPassed();
    const delivered = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
    assert.equal(delivered.status, 200);
    const res = await fetch(`${srv.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/plain/);
    const text = await res.text();
    assert.match(text, /wst_flows_started_total\{kind="browser"\} 1/);
    assert.match(text, /wst_flows_started_total\{kind="device"\} 1/);
    assert.match(text, /wst_flows_completed_total\{kind="browser",outcome="success"\} 1/);
    assert.match(text, /wst_handoffs_total\{event="requested"\} 1/);
    assert.match(text, /wst_handoffs_total\{event="approved"\} 1/);
    assert.match(text, /wst_handoffs_total\{event="delivered"\} 1/);
    assert.match(text, /wst_token_endpoint_errors_total\{error="authorization_pending"\} 1/);
    assert.match(
      text,
      /wst_webex_request_duration_seconds_count\{endpoint="token",outcome="ok"\} 2/,
    );
    assert.match(
      text,
      /wst_http_request_duration_seconds_count\{method="POST",route="\/oauth2\/token",status="200"\} 1/,
    );
    const labelValues = [...text.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
      [...m[1]!.matchAll(/="([^"]*)"/g)].map((v) => v[1]!),
    );
    for (const value of labelValues) {
      assert.match(value, /^[a-zA-Z0-9_./+:-]*$/, `label value looks like an enum: ${value}`);
      assert.doesNotMatch(value, /@|SBX_|spark-admin/, `no user data: ${value}`);
    }
  });
});

describe('graceful shutdown', () => {
  let service: RunningService;
  let redisUrl: string;
  let metricsPort: number;
  const prefix = uniquePrefix('shutdown');
  beforeAll(async () => {
    redisUrl = (await sharedRedis()).url;
    const port = await freePort();
    metricsPort = await freePort();
    service = await startService(
      {
        NODE_ENV: 'test',
        SANDBOX: 'true',
        PORT: String(port),
        HOST: '127.0.0.1',
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        REDIS_URL: redisUrl,
        REDIS_PREFIX: prefix,
        TOKEN_ENCRYPTION_KEY: TEST_KEY,
        SHUTDOWN_GRACE_SECONDS: '5',
        METRICS_PORT: String(metricsPort),
      },
      { logger: captureLogger([]) },
    );
  });
  afterAll(() => dumpPrefix(redisUrl, prefix, { remove: true }));

  test('METRICS_PORT serves /metrics on its own port only, off the public one', async () => {
    const onMain = await fetch(`${service.config.publicUrl}/metrics`);
    assert.equal(onMain.status, 404);
    const onMetrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(onMetrics.status, 200);
    assert.match(await onMetrics.text(), /process_resident_memory_bytes/);
  });

  test('shutdown answers a waiting poll, stops accepting, and closes the store', async () => {
    const url = service.config.publicUrl;
    const auth = await requestHandoff(url);
    assert.equal(auth.status, 200);
    const started = Date.now();
    const waiting = pollToken(url, { device_code: String(auth.json.device_code), wait: '30' });
    await pollIsHeld(`http://127.0.0.1:${metricsPort}/metrics`);
    await service.shutdown();
    const answer = await waiting;
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error, 'authorization_pending');
    assert.ok(
      Date.now() - started < 5000,
      'the waiting poll was answered at shutdown, not after its wait',
    );
    await assert.rejects(fetch(`${url}/healthz`), 'no longer accepting connections');
    await assert.rejects(service.store.ping(), 'store closed');
    await assert.rejects(
      fetch(`http://127.0.0.1:${metricsPort}/metrics`),
      'metrics listener closed',
    );
  });
});

describe('SIGTERM on the real process', () => {
  test('a running service exits 0 on SIGTERM after answering its waiting poll', async () => {
    const service = await spawnService({ SHUTDOWN_GRACE_SECONDS: '5' });
    const { child, url, exited } = service;
    try {
      const auth = await requestHandoff(url);
      assert.equal(auth.status, 200, service.output());
      const waiting = pollToken(url, { device_code: String(auth.json.device_code), wait: '30' });
      await pollIsHeld(`${url}/metrics`);
      child.kill('SIGTERM');
      const answer = await waiting;
      assert.equal(answer.json.error, 'authorization_pending');
      assert.equal(await exited, 0, service.output());
      assert.match(service.output(), /"event":"shutdown"/);
      assert.match(service.output(), /"event":"stopped"/);
    } finally {
      if (service.exitCode() === undefined) child.kill('SIGKILL');
    }
  });
});

/** Resolves once the service reports one poll held open (wst_polls_waiting), so a stop finds it waiting. */
function pollIsHeld(metricsUrl: string): Promise<unknown> {
  return until(async () => /^wst_polls_waiting 1$/m.test(await (await fetch(metricsUrl)).text()), {
    what: 'the service to hold the poll (wst_polls_waiting 1)',
    timeoutMs: 30_000,
    everyMs: 50,
  });
}
