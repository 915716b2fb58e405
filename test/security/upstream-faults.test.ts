/**
 * Webex misbehaving (timeouts, 5xx, HTML instead of JSON, token responses missing fields,
 * connection resets, refused client credentials): every flow answers a clear error, nothing
 * crashes, and nothing half-written stays in the store — a script's handoff stays pending.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { TokenFault } from '../../src/sandbox/sandbox';
import { decideAtSandbox } from '../helpers/admin';
import { deliveredTokens, refresh } from '../helpers/grants';
import { CookieBrowser } from '../helpers/http';
import { dumpPrefix } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';
import { DEVICE_GRANT, approvalFields, postForm, send, sleep, watchProcess } from './support';

const PREFIX = 'UPSTREAMTOK';
let srv: TestServer;
const watcher = watchProcess();

before(async () => {
  srv = await startTestServer({
    env: {
      DEVICE_POLL_INTERVAL_SECONDS: '1',
      WEBEX_TIMEOUT_MS: '800',
      // Every fault case enters a code from 127.0.0.1, and right codes count too.
      RATE_LIMIT_USER_CODE_FAILURES: '1000',
    },
    sandboxOptions: { tokenPrefix: PREFIX, hangMs: 1500 },
  });
});
after(async () => {
  watcher.stop();
  await srv?.close();
});

const EXPECTED: Record<TokenFault, { status: number; code: string; text: RegExp }> = {
  // Webex outages and rate limits are temporary: 503 / 429, never invalid_grant.
  http500: {
    status: 503,
    code: 'temporarily_unavailable',
    text: /Webex answered with a server error/,
  },
  http429: {
    status: 429,
    code: 'temporarily_unavailable',
    text: /too many requests from this service/,
  },
  timeout: { status: 504, code: 'temporarily_unavailable', text: /Webex did not answer in time/ },
  html: { status: 502, code: 'temporarily_unavailable', text: /could not understand/ },
  missing_fields: { status: 502, code: 'temporarily_unavailable', text: /could not understand/ },
  reset: { status: 502, code: 'temporarily_unavailable', text: /could not be reached/ },
  invalid_client: {
    status: 502,
    code: 'server_error',
    text: /refused this service's client credentials/,
  },
};
const FAULTS = Object.keys(EXPECTED) as TokenFault[];

async function storeDump(): Promise<Map<string, string>> {
  return dumpPrefix(srv.redis!.url, srv.redis!.prefix);
}

function assertNoUpstreamLeak(dump: Map<string, string>, what: string) {
  for (const [k, v] of dump) {
    assert.ok(
      !k.includes(PREFIX) && !v.includes(PREFIX),
      `${what}: a Webex token reached the store at ${k}`,
    );
  }
  for (const line of srv.logs)
    assert.ok(!line.includes(PREFIX), `${what}: a Webex token reached the logs`);
}

function assertErrorPage(
  page: { status: number; body: string; headers: Headers },
  fault: TokenFault,
) {
  const want = EXPECTED[fault];
  assert.equal(page.status, want.status, `${fault}: ${page.status} ${page.body.slice(0, 300)}`);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(page.body, want.text, `${fault}: clear message`);
  assert.match(page.body, new RegExp(`<code> ?${want.code}</code>`), `${fault}: error code shown`);
  assert.doesNotMatch(
    page.body,
    /Service Unavailable|Internal server error|trackingId|SANDBOX/,
    `${fault}: Webex's own text is not echoed`,
  );
}

describe('upstream faults', () => {
  beforeEach(() => {
    srv.sandbox.faults.token = undefined;
    srv.sandbox.faults.people = undefined;
  });

  for (const fault of FAULTS) {
    test(`token endpoint fault "${fault}": browser flow shows a clear error page`, async () => {
      const browser = new CookieBrowser();
      const start = await browser.get(`${srv.url}/start?scope=spark-admin:people_read`);
      srv.sandbox.faults.token = fault;
      const page = await decideAtSandbox(browser, start, 'accept');
      assertErrorPage(page, fault);
      const dump = await storeDump();
      assert.ok(
        ![...dump.keys()].some((k) => k.includes('flow:')),
        `${fault}: the flow record is consumed, not left behind`,
      );
      assertNoUpstreamLeak(dump, fault);
    });

    test(`token endpoint fault "${fault}": device handoff stays pending, no result stored`, async () => {
      const auth = await postForm(`${srv.url}/oauth2/device_authorization`, {
        client_id: 'cli',
        scope: 'spark-admin:people_read',
      });
      const { device_code, user_code } = JSON.parse(auth.body) as Record<string, string>;
      const browser = new CookieBrowser();
      const fields = await approvalFields(browser, srv.url, user_code!);
      const toWebex = await browser.post(`${srv.url}/device/approve`, fields);
      srv.sandbox.faults.token = fault;
      const page = await decideAtSandbox(browser, toWebex, 'accept');
      assertErrorPage(page, fault);

      const dump = await storeDump();
      assert.ok(
        ![...dump.keys()].some((k) => k.includes('result:')),
        `${fault}: no sealed result left behind`,
      );
      const records = [...dump.entries()]
        .filter(([k]) => k.includes('handoff:'))
        .map(([, v]) => JSON.parse(v) as { status: string });
      assert.ok(records.length >= 1);
      for (const r of records)
        assert.equal(r.status, 'pending', `${fault}: handoff not half-approved`);
      assertNoUpstreamLeak(dump, fault);

      const poll = await postForm(`${srv.url}/oauth2/token`, {
        grant_type: DEVICE_GRANT,
        client_id: 'cli',
        device_code: device_code!,
      });
      assert.equal(
        JSON.parse(poll.body).error,
        'authorization_pending',
        `${fault}: the script keeps waiting`,
      );

      // The same code can still be approved once Webex recovers.
      srv.sandbox.faults.token = undefined;
      const retry = await approvalFields(new CookieBrowser(), srv.url, user_code!).catch(
        (e: Error) => e,
      );
      assert.ok(!(retry instanceof Error), `${fault}: the user code still works after the failure`);
    });

    test(`token endpoint fault "${fault}": refresh answers RFC 6749 JSON and the grant stays usable`, async () => {
      // A real grant: made-up refresh tokens never reach Webex at all.
      const tokens = await deliveredTokens(srv.url);
      srv.sandbox.faults.token = fault;
      const res = await postForm(`${srv.url}/oauth2/token`, {
        grant_type: 'refresh_token',
        client_id: 'cli',
        refresh_token: String(tokens.refresh_token),
        fresh_access_token: 'true',
      });
      assert.equal(res.status, EXPECTED[fault].status, `${fault}: ${res.body}`);
      const body = JSON.parse(res.body) as Record<string, string>;
      assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description']);
      assert.equal(body.error, EXPECTED[fault].code);
      assert.doesNotMatch(res.body, new RegExp(PREFIX));
      if (fault === 'http429') assert.equal(res.headers.get('retry-after'), '7');
      if (fault === 'http500') assert.equal(res.headers.get('retry-after'), '30');
      srv.sandbox.faults.token = undefined;
      const again = await refresh(srv.url, String(tokens.refresh_token), {
        extra: { fresh_access_token: 'true' },
      });
      assert.equal(again.status, 200, `${fault}: the same token works once Webex recovers`);
    });
  }

  for (const fault of ['http403', 'timeout'] as const) {
    test(`people/me fault "${fault}": the sign-in still succeeds`, async () => {
      srv.sandbox.faults.people = fault;
      const browser = new CookieBrowser();
      const start = await browser.get(`${srv.url}/start?scope=spark-admin:people_read`);
      const page = await decideAtSandbox(browser, start, 'accept');
      assert.equal(page.status, 200, page.body.slice(0, 300));
      assert.match(page.body, /Your tokens are ready/);
      assert.match(page.body, /Webex did not tell us who signed in/);
    });
  }

  test('after all faults the service is alive and nothing was thrown unhandled', async () => {
    assert.equal((await send(`${srv.url}/healthz`)).status, 200);
    const browser = new CookieBrowser();
    const start = await browser.get(`${srv.url}/start?scope=spark-admin:people_read`);
    const page = await decideAtSandbox(browser, start, 'accept');
    assert.match(page.body, /Your tokens are ready/);
    await sleep(50);
    assert.deepEqual(watcher.problems, []);
  });
});
