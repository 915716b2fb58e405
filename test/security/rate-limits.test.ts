/**
 * Rate limits live in the store, so they hold across replicas: every test here spreads its
 * requests over two app instances sharing one Redis prefix. 429s carry Retry-After.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { CookieBrowser } from '../helpers/http';
import { dumpPrefix, uniquePrefix } from '../helpers/redis';
import {
  startSandbox,
  startTestServer,
  type RunningSandbox,
  type TestServer,
} from '../helpers/server';
import { DEVICE_GRANT, csrfFor, postForm, send } from './support';

const LIMIT = 3;
const WINDOW = 60;
const env = {
  TRUST_PROXY: 'true',
  RATE_LIMIT_WINDOW_SECONDS: String(WINDOW),
  RATE_LIMIT_DEVICE_AUTHORIZATIONS: String(LIMIT),
  RATE_LIMIT_USER_CODE_FAILURES: String(LIMIT),
  RATE_LIMIT_STARTS: String(LIMIT),
  DEVICE_POLL_INTERVAL_SECONDS: '2',
};

let sandbox: RunningSandbox;
let a: TestServer;
let b: TestServer;
const prefix = uniquePrefix('ratelimit');

beforeAll(async () => {
  sandbox = await startSandbox();
  a = await startTestServer({ env, sandbox, redisPrefix: prefix });
  b = await startTestServer({ env, sandbox, redisPrefix: prefix });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  if (a?.redis) await dumpPrefix(a.redis.url, prefix, { remove: true });
  await sandbox?.close();
});

/** Instance A for even requests, B for odd ones. */
const pick = (i: number) => (i % 2 === 0 ? a : b);

function assert429(res: { status: number; headers: Headers; body: string }, what: string) {
  assert.equal(res.status, 429, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(
    Number.isInteger(retry) && retry >= 1 && retry <= WINDOW,
    `${what}: Retry-After ${res.headers.get('retry-after')}`,
  );
}

describe('rate limits shared through the store', () => {
  test('device authorization: per address, across instances', async () => {
    const ask = (i: number, ip: string) =>
      postForm(
        `${pick(i).url}/oauth2/device_authorization`,
        { client_id: 'cli', scope: 'spark-admin:people_read' },
        { 'x-forwarded-for': ip },
      );
    for (let i = 0; i < LIMIT; i++)
      assert.equal((await ask(i, '192.0.2.10')).status, 200, `request ${i}`);
    const refused = await ask(LIMIT, '192.0.2.10');
    assert429(refused, 'device authorization');
    assert.equal(JSON.parse(refused.body).error, 'rate_limited');
    assert429(await ask(LIMIT + 1, '192.0.2.10'), 'device authorization on the other instance');
    assert.equal((await ask(0, '192.0.2.11')).status, 200, 'another address is not affected');
  });

  test('/start: per address, across instances', async () => {
    const start = (i: number, ip: string) =>
      send(`${pick(i).url}/start?scope=spark-admin:people_read`, {
        headers: { 'x-forwarded-for': ip, accept: 'text/html' },
      });
    for (let i = 0; i < LIMIT; i++) assert.equal((await start(i, '192.0.2.20')).status, 302);
    const refused = await start(LIMIT, '192.0.2.20');
    assert429(refused, '/start');
    assert.match(refused.body, /Too many attempts/);
    assert429(await start(LIMIT + 1, '192.0.2.20'), '/start on the other instance');
    assert.equal((await start(0, '192.0.2.21')).status, 302, 'another address is not affected');
  });

  test('user-code entry: per address (whatever the browser), across instances', async () => {
    const ip = '192.0.2.30';
    const wrong = async (i: number, browser: CookieBrowser, code = 'BBBB-BBBB') => {
      const s = pick(i);
      const csrf = await csrfFor(browser, s.url);
      return browser.post(`${s.url}/device`, { csrf, user_code: code }, { 'x-forwarded-for': ip });
    };
    for (let i = 0; i < LIMIT; i++)
      assert.equal((await wrong(i, new CookieBrowser())).status, 400, `wrong code ${i}`);
    // A fresh browser from the same address, even with the right code, is refused now.
    const auth = await postForm(
      `${a.url}/oauth2/device_authorization`,
      { client_id: 'cli', scope: 'spark-admin:people_read' },
      { 'x-forwarded-for': '192.0.2.31' },
    );
    const right = String(JSON.parse(auth.body).user_code);
    assert429(await wrong(LIMIT, new CookieBrowser(), right), 'user code per address');
    assert429(
      await wrong(LIMIT + 1, new CookieBrowser(), right),
      'user code per address, other instance',
    );
  });

  test('user-code entry: per browser (whatever the address), across instances', async () => {
    // One browser: the same cookie reaches both replicas (as behind one hostname).
    const browser = new CookieBrowser();
    const csrf = await csrfFor(browser, a.url);
    const cookie = [...browser.cookies.entries()]
      .map(([k, v]) => `${k.split('|')[1]}=${v}`)
      .join('; ');
    const wrong = (i: number, ip: string, code = 'CCCC-CCCC') =>
      postForm(
        `${pick(i).url}/device`,
        { csrf, user_code: code },
        { cookie, 'x-forwarded-for': ip, accept: 'text/html' },
      );
    for (let i = 0; i < LIMIT; i++) assert.equal((await wrong(i, `192.0.2.${40 + i}`)).status, 400);
    const auth = await postForm(
      `${a.url}/oauth2/device_authorization`,
      { client_id: 'cli', scope: 'spark-admin:people_read' },
      { 'x-forwarded-for': '192.0.2.49' },
    );
    const right = String(JSON.parse(auth.body).user_code);
    assert429(await wrong(LIMIT, '192.0.2.50', right), 'user code per browser from a new address');
    assert429(await wrong(LIMIT + 1, '192.0.2.51', right), 'user code per browser, other instance');
    // Meanwhile a different browser at a different address gets through with the right code.
    const other = new CookieBrowser();
    const otherCsrf = await csrfFor(other, b.url);
    const ok = await other.post(
      `${b.url}/device`,
      { csrf: otherCsrf, user_code: right },
      { 'x-forwarded-for': '192.0.2.52' },
    );
    assert.equal(ok.status, 200);
    assert.match(ok.body, /Approve this request\?/);
  });

  test('polling faster than the interval gets slow_down, on any instance, and the interval grows', async () => {
    const auth = await postForm(
      `${a.url}/oauth2/device_authorization`,
      { client_id: 'cli', scope: 'spark-admin:people_read' },
      { 'x-forwarded-for': '192.0.2.60' },
    );
    const deviceCode = String(JSON.parse(auth.body).device_code);
    const poll = (s: TestServer) =>
      postForm(`${s.url}/oauth2/token`, {
        grant_type: DEVICE_GRANT,
        client_id: 'cli',
        device_code: deviceCode,
      });
    const first = await poll(a);
    assert.equal(JSON.parse(first.body).error, 'authorization_pending');
    const second = await poll(b);
    assert.equal(second.status, 400);
    const body = JSON.parse(second.body) as { error: string; error_description: string };
    assert.equal(body.error, 'slow_down', 'the poll gate is shared by both instances');
    assert.match(body.error_description, /at least 7 seconds/);
    const third = JSON.parse((await poll(a)).body) as { error: string; error_description: string };
    assert.equal(third.error, 'slow_down');
    assert.match(
      third.error_description,
      /at least 12 seconds/,
      'each slow_down adds 5 seconds (RFC 8628 §3.5)',
    );
  });
});
