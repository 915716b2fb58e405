import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { approveHandoff, pollToken, requestHandoff } from '../helpers/admin';
import { startTestServer, type TestServer } from '../helpers/server';
import { pollIntervalPassed } from '../helpers/time';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ env: { DEVICE_POLL_INTERVAL_SECONDS: '1' } });
});
afterAll(() => srv.close());

test('device flow smoke', async () => {
  const auth = await requestHandoff(srv.url);
  assert.equal(auth.status, 200, JSON.stringify(auth.json));
  const pending = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
  assert.equal(pending.json.error, 'authorization_pending');
  const done = await approveHandoff(srv.url, String(auth.json.user_code));
  assert.equal(done.status, 200, done.body.slice(0, 500));
  assert.match(done.body, /Approved for/);
  await pollIntervalPassed();
  const tokens = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  assert.match(String(tokens.json.access_token), /^SBX_AT_/);
});
