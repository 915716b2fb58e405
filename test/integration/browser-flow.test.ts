import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { SANDBOX_ORG_UUID } from '../../src/sandbox/sandbox';
import { decideAtSandbox } from '../helpers/admin';
import { CookieBrowser, decodeEntities, type Page } from '../helpers/http';
import { skippingClock } from '../helpers/time';
import {
  TEST_CLIENT_ID,
  TEST_CLIENT_SECRET,
  startTestServer,
  type TestServer,
} from '../helpers/server';

const SCOPES = ['spark-admin:people_read', 'spark-admin:devices_read', 'spark:kms'];

async function start(srv: TestServer, browser: CookieBrowser, scopes = SCOPES): Promise<Page> {
  return browser.get(`${srv.url}/start?scope=${encodeURIComponent(scopes.join(' '))}`);
}

function stateOf(page: Page): string {
  return new URL(page.location!).searchParams.get('state')!;
}

describe('browser flow, dynamic mode', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv.close());

  test('home page offers the catalog grouped, with presets and a plain form to /start', async () => {
    const page = await new CookieBrowser().get(`${srv.url}/`);
    assert.equal(page.status, 200);
    for (const group of ['Admin', 'Compliance', 'Devices &amp; xAPI', 'Meetings', 'User'])
      assert.match(page.body, new RegExp(`<span>${group}</span>`));
    assert.match(page.body, /<form id="scope-form" method="get" action="\/start">/);
    assert.match(page.body, /value="spark-admin:people_read"/);
    assert.doesNotMatch(page.body, /value="spark:all"/);
    assert.match(page.body, /Read-only admin/);
    assert.match(page.body, /Compliance officer/);
    const preset = await new CookieBrowser().get(`${srv.url}/?preset=compliance-officer`);
    assert.match(preset.body, /value="spark-compliance:messages_read" id="[^"]+" checked/);
  });

  test('start → Webex authorize with exactly the chosen scopes, PKCE S256, state, and a browser cookie', async () => {
    const browser = new CookieBrowser();
    const page = await start(srv, browser);
    assert.equal(page.status, 302);
    const loc = new URL(page.location!);
    assert.equal(`${loc.origin}${loc.pathname}`, `${srv.sandboxUrl}/v1/authorize`);
    assert.equal(loc.searchParams.get('response_type'), 'code');
    assert.equal(loc.searchParams.get('client_id'), TEST_CLIENT_ID);
    assert.equal(loc.searchParams.get('redirect_uri'), `${srv.url}/oauth`);
    assert.equal(loc.searchParams.get('scope'), SCOPES.join(' '));
    assert.equal(loc.searchParams.get('code_challenge_method'), 'S256');
    assert.match(loc.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    const state = loc.searchParams.get('state')!;
    assert.ok(Buffer.from(state, 'base64url').length >= 16, 'state has at least 128 bits');
    const cookie = page.headers.getSetCookie().join('\n');
    assert.match(cookie, /^wst_browser=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
  });

  test('repeated scope parameters (checkbox form) are joined', async () => {
    const page = await new CookieBrowser().get(
      `${srv.url}/start?scope=spark-admin:people_read&scope=spark:kms`,
    );
    assert.equal(
      new URL(page.location!).searchParams.get('scope'),
      'spark-admin:people_read spark:kms',
    );
  });

  test('accept at Webex → tokens page with the tokens, lifetimes, scopes, signer and curl; PKCE verified by Webex', async () => {
    const browser = new CookieBrowser();
    const tokenCalls = srv.sandbox.calls.token;
    const page = await decideAtSandbox(browser, await start(srv, browser), 'accept');
    assert.equal(page.status, 200, page.body.slice(0, 400));
    assert.equal(srv.sandbox.calls.token, tokenCalls + 1);
    const issued = srv.sandbox.issued.at(-1)!;
    assert.ok(page.body.includes(issued.access_token));
    assert.ok(page.body.includes(issued.refresh_token));
    assert.match(page.body, /Valid for 13 days 23 hours, until/);
    assert.match(page.body, /Valid for 89 days 23 hours, until/);
    assert.match(page.body, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    for (const s of SCOPES) assert.ok(page.body.includes(`<code>${s}</code>`), s);
    assert.match(page.body, /Ada Admin/);
    assert.match(page.body, /ada\.admin@sandbox\.example/);
    // people/me sends the base64 org id; the page shows the UUID Control Hub shows.
    assert.match(page.body, new RegExp(SANDBOX_ORG_UUID));
    assert.match(page.body, /Requested scopes/);
    assert.ok(
      decodeEntities(page.body).includes(
        `curl -H "Authorization: Bearer ${issued.access_token}" ${srv.sandboxUrl}/v1/people/me`,
      ),
    );
    assert.match(page.body, /data-copy="access-token"/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
  });

  test('people/me failing does not fail the flow', async () => {
    srv.sandbox.faults.people = 'http403';
    try {
      const browser = new CookieBrowser();
      const page = await decideAtSandbox(browser, await start(srv, browser), 'accept');
      assert.equal(page.status, 200);
      assert.ok(page.body.includes(srv.sandbox.issued.at(-1)!.access_token));
      assert.match(page.body, /Webex did not tell us who signed in/);
    } finally {
      delete srv.sandbox.faults.people;
    }
  });

  test('unknown, disallowed and empty scopes get a 400 page listing each one and why', async () => {
    const page = await new CookieBrowser().get(
      `${srv.url}/start?scope=${encodeURIComponent('spark-admin:people_read spark:all bogus spark-admin:made_up')}`,
    );
    assert.equal(page.status, 400);
    assert.match(page.body, /Scopes not available/);
    assert.match(page.body, /spark:all is never issued/);
    // Issue 13: explained once, not "spark:all spark:all is never issued".
    assert.equal(page.body.split('spark:all').length - 1, 1, 'spark:all is named once');
    assert.match(page.body, /bogus is not a Webex scope name/);
    assert.match(page.body, /spark-admin:made_up is not a scope this service knows/);
    assert.equal(page.location, null);
    const empty = await new CookieBrowser().get(`${srv.url}/start`);
    assert.equal(empty.status, 400);
    assert.match(empty.body, /Pick at least one scope/);
  });

  test('non-admin at Webex → invalid_scope explained', async () => {
    const browser = new CookieBrowser();
    const page = await decideAtSandbox(browser, await start(srv, browser), 'non-admin');
    assert.equal(page.status, 403);
    assert.match(page.body, /not entitled to them/);
    assert.match(
      page.body,
      /not enabled on this service&#39;s Webex integration|not enabled on this service's Webex integration/,
    );
    assert.match(page.body, /a standard user asking for admin/);
    assert.match(page.body, /<code> invalid_scope<\/code>/);
  });

  test('decline at Webex → access_denied explained', async () => {
    const browser = new CookieBrowser();
    const page = await decideAtSandbox(browser, await start(srv, browser), 'decline');
    assert.equal(page.status, 403);
    assert.match(page.body, /declined, or your Webex organization has a policy/);
    assert.match(page.body, /contact the administrator of your Webex organization/);
  });

  test('Webex error text on the redirect is never reflected', async () => {
    const browser = new CookieBrowser();
    const state = stateOf(await start(srv, browser));
    const evil = 'Call 555-0100 to unlock your account';
    const page = await browser.get(
      `${srv.url}/oauth?state=${state}&error=<script>x&error_description=${encodeURIComponent(evil)}`,
    );
    assert.equal(page.status, 502);
    assert.ok(!page.body.includes(evil));
    assert.ok(!page.body.includes('<script>x'));
    assert.match(page.body, /returned the error code &quot;unknown&quot;/);
  });

  describe('state problems: an explanatory page and no call to Webex', () => {
    const callback = (srv: TestServer, b: CookieBrowser, state: string) =>
      b.get(`${srv.url}/oauth?code=anything&state=${encodeURIComponent(state)}`);

    test('missing state', async () => {
      const before = srv.sandbox.calls.token;
      const page = await new CookieBrowser().get(`${srv.url}/oauth?code=abc`);
      assert.equal(page.status, 400);
      assert.match(page.body, /without the sign-in details/);
      assert.equal(srv.sandbox.calls.token, before);
    });

    test('unknown (forged) state', async () => {
      const before = srv.sandbox.calls.token;
      const page = await callback(
        srv,
        new CookieBrowser(),
        crypto.randomBytes(32).toString('base64url'),
      );
      assert.equal(page.status, 400);
      assert.match(page.body, /expired/);
      assert.equal(srv.sandbox.calls.token, before);
    });

    test('state from another browser (mismatch)', async () => {
      const victim = new CookieBrowser();
      const state = stateOf(await start(srv, victim));
      const attacker = new CookieBrowser();
      await attacker.get(`${srv.url}/device`); // gets its own browser cookie
      const before = srv.sandbox.calls.token;
      const page = await callback(srv, attacker, state);
      assert.equal(page.status, 400);
      assert.match(page.body, /different browser/);
      assert.match(page.body, /state_mismatch/);
      assert.equal(srv.sandbox.calls.token, before);
    });

    test('cookie missing (blocked cookies)', async () => {
      const browser = new CookieBrowser();
      const state = stateOf(await start(srv, browser));
      browser.clearCookies();
      const before = srv.sandbox.calls.token;
      const page = await callback(srv, browser, state);
      assert.equal(page.status, 400);
      // Issue 13: the likely causes are named, not only "allow cookies".
      assert.match(page.body, /another address for this service/);
      assert.match(page.body, /127\.0\.0\.1 instead of localhost/);
      assert.match(page.body, /another browser or a private window/);
      assert.ok(page.body.includes(`Open ${srv.url} in this browser`), 'names the right address');
      assert.match(page.body, /allow cookies for it/);
      assert.equal(srv.sandbox.calls.token, before);
    });

    test('reloading the tokens page (the page left used=1 in the address) says it was already used', async () => {
      const browser = new CookieBrowser();
      const first = await decideAtSandbox(browser, await start(srv, browser), 'accept');
      assert.equal(first.status, 200);
      const before = srv.sandbox.calls.token;
      const reload = await browser.get(`${srv.url}/oauth?used=1`);
      assert.equal(reload.status, 400);
      assert.match(reload.body, /This page was already used/);
      assert.doesNotMatch(reload.body, /without the sign-in details/);
      assert.match(reload.body, /state_used/);
      assert.equal(srv.sandbox.calls.token, before);
    });

    test('replayed callback', async () => {
      const browser = new CookieBrowser();
      const first = await decideAtSandbox(browser, await start(srv, browser), 'accept');
      assert.equal(first.status, 200);
      const before = srv.sandbox.calls.token;
      const again = await browser.get(browser.visited.at(-1)!);
      assert.equal(again.status, 400);
      assert.match(again.body, /already been used/);
      assert.equal(srv.sandbox.calls.token, before);
    });
  });
});

describe('browser flow, expired state', () => {
  let srv: TestServer;
  const clock = skippingClock();
  beforeAll(async () => {
    srv = await startTestServer({ env: { FLOW_TTL_SECONDS: '1' }, now: clock.now });
  });
  afterAll(() => srv.close());

  test('a tab left open past FLOW_TTL_SECONDS is explained and Webex is not called', async () => {
    const browser = new CookieBrowser();
    const toWebex = await start(srv, browser);
    // The sign-in record may still be in the store: its own clock is what says it expired.
    clock.advance(1300);
    const before = srv.sandbox.calls.token;
    const page = await decideAtSandbox(browser, toWebex, 'accept');
    assert.equal(page.status, 400);
    assert.match(page.body, /expired/);
    assert.match(page.body, /state_expired/);
    assert.equal(srv.sandbox.calls.token, before);
  });
});

describe('browser flow, Webex misbehaving', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ env: { WEBEX_TIMEOUT_MS: '300' } });
  });
  afterAll(() => srv.close());

  const cases: [NonNullable<TestServer['sandbox']['faults']['token']>, number, RegExp][] = [
    ['http500', 503, /Webex answered with a server error/],
    ['http429', 429, /too many requests from this service/],
    ['timeout', 504, /Webex did not answer in time/],
    ['html', 502, /could not understand/],
    ['missing_fields', 502, /could not understand/],
    ['reset', 502, /could not be reached/],
    ['invalid_client', 502, /CLIENT_ID and CLIENT_SECRET/],
  ];
  for (const [fault, status, text] of cases) {
    test(`token endpoint fault ${fault} → ${status} page`, async () => {
      srv.sandbox.faults.token = fault;
      try {
        const browser = new CookieBrowser();
        const page = await decideAtSandbox(browser, await start(srv, browser), 'accept');
        assert.equal(page.status, status, page.body.slice(0, 300));
        assert.match(page.body, text);
        assert.match(page.body, /What to do next/);
      } finally {
        delete srv.sandbox.faults.token;
      }
    });
  }
});

describe('static mode', () => {
  let srv: TestServer;
  const FIXED = [
    'spark-compliance:rooms_read',
    'spark-compliance:teams_read',
    'spark-compliance:events_read',
  ];
  beforeAll(async () => {
    srv = await startTestServer({ env: { SCOPES_MODE: 'static', SCOPES: FIXED.join(' ') } });
  });
  afterAll(() => srv.close());

  test('home lists the fixed scopes with descriptions and a Start button', async () => {
    const page = await new CookieBrowser().get(`${srv.url}/`);
    for (const s of FIXED) assert.ok(page.body.includes(`<code>${s}</code>`), s);
    assert.match(page.body, /Read every space in the org/);
    assert.match(page.body, /Start: sign in with Webex/);
    assert.doesNotMatch(page.body, /name="scope" value="spark-admin/);
  });

  test('start requests exactly the configured scopes (plus the identity scope), and refuses others', async () => {
    const home = await new CookieBrowser().get(`${srv.url}/`);
    assert.match(home.body, /<code>spark:people_read<\/code>/);
    assert.match(home.body, /Added so the service can check who signed in/);
    const browser = new CookieBrowser();
    const page = await browser.get(`${srv.url}/start`);
    // None of the compliance scopes reads people/me, so the identity scope is asked for too.
    assert.equal(
      new URL(page.location!).searchParams.get('scope'),
      [...FIXED, 'spark:people_read'].join(' '),
    );
    const done = await decideAtSandbox(browser, page, 'accept');
    assert.equal(done.status, 200);
    assert.match(done.body, /Ada Admin/);
    const other = await new CookieBrowser().get(`${srv.url}/start?scope=spark-admin:people_read`);
    assert.equal(other.status, 400);
    assert.match(other.body, /not configured to issue it/);
  });
});

describe('logs', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv.close());

  test('across a full flow, no token, code, state, client secret or cookie value reaches a log line', async () => {
    const browser = new CookieBrowser();
    const toWebex = await start(srv, browser);
    const state = stateOf(toWebex);
    const page = await decideAtSandbox(browser, toWebex, 'accept');
    assert.equal(page.status, 200);
    const callbackUrl = new URL(browser.visited.at(-1)!);
    const code = callbackUrl.searchParams.get('code')!;
    const { access_token, refresh_token } = srv.sandbox.issued.at(-1)!;
    const cookieValues = [...browser.cookies.values()];
    const secrets = {
      state,
      code,
      access_token,
      refresh_token,
      TEST_CLIENT_SECRET,
      ...Object.fromEntries(cookieValues.map((v, i) => [`cookie${i}`, v])),
    };
    const logs = srv.logs.join('\n');
    assert.ok(srv.logs.length >= 3, 'the flow was logged');
    assert.match(logs, /"url":"\/oauth\?state=\[redacted\]&code=\[redacted\]"/);
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(value.length >= 16, `${name} is a real value`);
      assert.equal(logs.includes(value), false, `${name} leaked into the logs`);
    }
  });
});
