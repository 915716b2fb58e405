/**
 * The request line: one per request at info, with exactly five safe fields; polls that only
 * hear authorization_pending or slow_down are logged at debug, so hundreds of polling CI jobs do
 * not flood the logs, while anything that changes a handoff stays at info.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { approveHandoff, pollToken, requestHandoff } from '../helpers/admin';
import { startTestServer, type TestServer } from '../helpers/server';

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

const INFO = 30;
const DEBUG = 20;
const requestLines = (srv: TestServer, from: number): Line[] =>
  srv.logs
    .slice(from)
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.msg === 'request');

let info: TestServer;
let debug: TestServer;
beforeAll(async () => {
  const env = { DEVICE_POLL_INTERVAL_SECONDS: '1' };
  info = await startTestServer({ env: { ...env, LOG_LEVEL: 'info' } });
  debug = await startTestServer({ env: { ...env, LOG_LEVEL: 'debug' } });
});
afterAll(async () => {
  await info?.close();
  await debug?.close();
});

test('at info: pending and slow_down polls leave no request line; other answers do', async () => {
  const auth = await requestHandoff(info.url);
  assert.equal(auth.status, 200);
  const deviceCode = String(auth.json.device_code);
  const from = info.logs.length;
  assert.equal(
    (await pollToken(info.url, { device_code: deviceCode })).json.error,
    'authorization_pending',
  );
  assert.equal((await pollToken(info.url, { device_code: deviceCode })).json.error, 'slow_down');
  assert.deepEqual(requestLines(info, from), []);

  const unknown = await pollToken(info.url, { device_code: 'not-a-real-device-code' });
  assert.equal(unknown.json.error, 'invalid_grant');
  // A second handoff, approved before its first poll: that poll delivers at once.
  const approved = await requestHandoff(info.url);
  assert.equal((await approveHandoff(info.url, String(approved.json.user_code))).status, 200);
  const tokens = await pollToken(info.url, { device_code: String(approved.json.device_code) });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));

  const lines = requestLines(info, from).filter((l) => l.url === '/oauth2/token');
  assert.deepEqual(
    lines.map((l) => [l.level, l.status]),
    [
      [INFO, 400],
      [INFO, 200],
    ],
  );
  for (const line of lines) {
    const { level, time, pid, hostname, service, msg, ...fields } = line;
    void [level, time, pid, hostname, service, msg];
    assert.deepEqual(Object.keys(fields).sort(), ['ip', 'method', 'ms', 'status', 'url']);
  }
  for (const code of [deviceCode, String(approved.json.device_code)])
    assert.ok(!info.logs.join('\n').includes(code), 'a device code never reaches a log');
});

test('at debug: the pending poll has its request line, at debug level', async () => {
  const auth = await requestHandoff(debug.url);
  const from = debug.logs.length;
  const res = await pollToken(debug.url, { device_code: String(auth.json.device_code) });
  assert.equal(res.json.error, 'authorization_pending');
  const lines = requestLines(debug, from);
  assert.deepEqual(
    lines.map((l) => [l.level, l.method, l.url, l.status]),
    [[DEBUG, 'POST', '/oauth2/token', 400]],
  );
});
