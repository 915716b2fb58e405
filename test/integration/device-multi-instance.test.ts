/**
 * Issue 3, two replicas: app instances A and B share one Redis (same key prefix) and one
 * Webex sandbox. A script talks to A while the admin's browser lands on B.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { approveHandoff, denyHandoff, pollToken, requestHandoff } from '../helpers/admin';
import { dumpPrefix, uniquePrefix } from '../helpers/redis';
import {
  startSandbox,
  startTestServer,
  type RunningSandbox,
  type TestServer,
} from '../helpers/server';

let sandbox: RunningSandbox;
let a: TestServer;
let b: TestServer;
const prefix = uniquePrefix('multi');
const env = { DEVICE_POLL_INTERVAL_SECONDS: '1', RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000' };

beforeAll(async () => {
  sandbox = await startSandbox({ tokenPrefix: 'MULTI' });
  a = await startTestServer({ sandbox, redisPrefix: prefix, env });
  b = await startTestServer({ sandbox, redisPrefix: prefix, env });
});
afterAll(async () => {
  await a.close();
  await b.close();
  await sandbox.close();
  await dumpPrefix(a.redis!.url, prefix, { remove: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('request on A, approve on B, poll on A', async () => {
  assert.equal(a.redis?.prefix, b.redis?.prefix);
  const auth = await requestHandoff(a.url);
  assert.equal(auth.status, 200);
  assert.equal(auth.json.verification_uri, `${a.url}/device`);
  const deviceCode = String(auth.json.device_code);
  assert.equal(
    (await pollToken(a.url, { device_code: deviceCode })).json.error,
    'authorization_pending',
  );

  const done = await approveHandoff(b.url, String(auth.json.user_code));
  assert.equal(done.status, 200, done.body.slice(0, 300));
  await sleep(1000);
  const tokens = await pollToken(a.url, { device_code: deviceCode });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  assert.match(String(tokens.json.access_token), /^MULTI_AT_/);
  await sleep(1000);
  assert.equal(
    (await pollToken(b.url, { device_code: deviceCode })).json.error,
    'invalid_grant',
    'delivered once across replicas',
  );
});

test('a waiting poll on A (wait=10) started before the approval on B returns the tokens promptly', async () => {
  const auth = await requestHandoff(a.url);
  const deviceCode = String(auth.json.device_code);
  const started = Date.now();
  let settledAt = 0;
  const polling = pollToken(a.url, { device_code: deviceCode, wait: '10' }).finally(
    () => (settledAt = Date.now()),
  );
  await until(() => a.waiters.size === 1, 'the poll to wait on A');
  assert.equal(b.waiters.size, 0, 'the poll waits on A, not on B');
  await sleep(300);
  assert.equal(settledAt, 0, 'the poll holds instead of answering authorization_pending');

  const done = await approveHandoff(b.url, String(auth.json.user_code));
  const approvedAt = Date.now();
  assert.equal(done.status, 200, done.body.slice(0, 300));

  const tokens = await polling;
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  assert.match(String(tokens.json.access_token), /^MULTI_AT_/);
  const afterApproval = settledAt - approvedAt;
  assert.ok(afterApproval < 1500, `returned ${afterApproval} ms after the approval on B`);
  assert.ok(
    settledAt - started < 7000,
    `returned after ${settledAt - started} ms, well before the 10 s wait ended`,
  );
  assert.equal(a.waiters.size, 0);
});

test('a Deny on B wakes a poll waiting on A with access_denied', async () => {
  const auth = await requestHandoff(a.url);
  const started = Date.now();
  const polling = pollToken(a.url, { device_code: String(auth.json.device_code), wait: '10' });
  await until(() => a.waiters.size === 1, 'the poll to wait on A');
  assert.equal((await denyHandoff(b.url, String(auth.json.user_code))).status, 200);
  const answer = await polling;
  assert.equal(answer.status, 400);
  assert.equal(answer.json.error, 'access_denied');
  assert.ok(Date.now() - started < 5000, 'woken, not timed out');
});

test('exactly-once across replicas: concurrent polls on A and B after approval, one success', async () => {
  const auth = await requestHandoff(b.url);
  const deviceCode = String(auth.json.device_code);
  assert.equal((await approveHandoff(a.url, String(auth.json.user_code))).status, 200);
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      pollToken(i % 2 ? a.url : b.url, { device_code: deviceCode }),
    ),
  );
  assert.equal(answers.filter((x) => x.status === 200).length, 1);
  assert.ok(answers.every((x) => x.status === 200 || x.status === 400));
});
