/**
 * The facts about real Webex that the sandbox now reproduces (docs/webex.md): no `scope` in
 * token answers, people/me refused without a people-reading scope, base64 org ids, 429 with
 * Retry-After, `invalid_scope` for scopes the integration did not register, and error
 * redirects that may come back without `state`. The service must be right against each.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { SANDBOX_ORG_UUID } from '../../src/sandbox/sandbox';
import { orgApiId } from '../../src/webex/org-id';
import {
  approveHandoff,
  decideAtSandbox,
  openApproval,
  pollToken,
  requestHandoff,
} from '../helpers/admin';
import { CookieBrowser, decodeEntities, forms } from '../helpers/http';
import { deliveredTokens } from '../helpers/grants';
import { startTestServer, type TestServer } from '../helpers/server';
import { pollIntervalPassed } from '../helpers/time';

const ADMIN_ONLY = 'spark-admin:licenses_read';
const text = (html: string) => decodeEntities(html.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ');
const events = (srv: TestServer) => srv.logs.map((l) => JSON.parse(l) as Record<string, unknown>);

async function signIn(srv: TestServer, scope: string, decision: 'accept' | 'decline' = 'accept') {
  const browser = new CookieBrowser();
  const start = await browser.get(`${srv.url}/start?scope=${encodeURIComponent(scope)}`);
  assert.equal(start.status, 302, start.body.slice(0, 300));
  return { browser, start, page: await decideAtSandbox(browser, start, decision) };
}

/** A script's handoff, approved at the sandbox; returns the approval page and the codes. */
async function handoff(srv: TestServer, scope: string) {
  const auth = await requestHandoff(srv.url, { client_id: 'cli', scope });
  assert.equal(auth.status, 200, JSON.stringify(auth.json));
  return { deviceCode: String(auth.json.device_code), userCode: String(auth.json.user_code) };
}

describe('identity with only an admin scope picked', () => {
  const servers: TestServer[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  const cases: [string, Record<string, string>][] = [
    ['no ALLOWED_ORG_IDS', {}],
    ['ALLOWED_ORG_IDS as the Control Hub UUID', { ALLOWED_ORG_IDS: SANDBOX_ORG_UUID }],
    [
      'ALLOWED_ORG_IDS as base64, padded',
      {
        ALLOWED_ORG_IDS: Buffer.from(`ciscospark://us/ORGANIZATION/${SANDBOX_ORG_UUID}`).toString(
          'base64',
        ),
      },
    ],
    ['ALLOWED_ORG_IDS as base64, unpadded', { ALLOWED_ORG_IDS: orgApiId(SANDBOX_ORG_UUID) }],
  ];

  for (const [name, env] of cases) {
    test(`${name}: spark:people_read is added, disclosed, delivered, and the signer is known`, async () => {
      const srv = await startTestServer({ env: { DEVICE_POLL_INTERVAL_SECONDS: '1', ...env } });
      servers.push(srv);

      const home = await new CookieBrowser().get(`${srv.url}/`);
      assert.match(
        text(home.body),
        /spark:people_read is added so the service can check who signed in/,
      );

      // Browser flow.
      const meCalls = srv.sandbox.calls.peopleMe;
      const { start, page } = await signIn(srv, ADMIN_ONLY);
      assert.equal(
        new URL(start.location!).searchParams.get('scope'),
        `${ADMIN_ONLY} spark:people_read`,
        'the authorize request asks for the identity scope too',
      );
      assert.equal(page.status, 200, page.body.slice(0, 400));
      assert.equal(srv.sandbox.calls.peopleMe, meCalls + 1);
      const shown = text(page.body);
      assert.match(shown, /Ada Admin/);
      assert.match(shown, new RegExp(SANDBOX_ORG_UUID), 'the org is shown as its UUID');
      assert.match(shown, /Requested scopes/, 'Webex named no scopes, so the page says so');
      assert.doesNotMatch(shown, /Granted scopes/);
      assert.match(shown, /spark:people_read was added so the service can check who signed in/);

      // Script handoff: the approval page discloses it, the delivered scope includes it.
      const h = await handoff(srv, ADMIN_ONLY);
      const { page: approval } = await openApproval(srv.url, h.userCode);
      assert.match(
        text(approval.body),
        /spark:people_read Added so the service can check who signed in; the script receives it too/,
      );
      assert.equal((await approveHandoff(srv.url, h.userCode)).status, 200);
      const tokens = await pollToken(srv.url, { device_code: h.deviceCode });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
      assert.equal(tokens.json.scope, `${ADMIN_ONLY} spark:people_read`);
      // Webex's refresh answer names no scopes either; the service's does.
      const refreshed = await fetch(`${srv.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: 'cli',
          refresh_token: String(tokens.json.refresh_token),
        }),
      });
      assert.equal(refreshed.status, 200);
      const again = (await refreshed.json()) as Record<string, unknown>;
      assert.equal(again.scope, `${ADMIN_ONLY} spark:people_read`);
      const approved = events(srv).find((e) => e.event === 'handoff_approved');
      assert.equal(approved?.by, 'ada.admin@sandbox.example');
      assert.equal(approved?.orgId, SANDBOX_ORG_UUID);
    });
  }

  test('an allowlist naming another org, in base64: refused, with the signer known', async () => {
    const other = '11111111-2222-4333-8444-555555555555';
    const srv = await startTestServer({ env: { ALLOWED_ORG_IDS: orgApiId(other) } });
    servers.push(srv);
    const { page } = await signIn(srv, ADMIN_ONLY);
    assert.equal(page.status, 403);
    assert.match(text(page.body), /organization this service does not serve/);
  });

  test('a picked people-reading scope needs no addition', async () => {
    const srv = await startTestServer();
    servers.push(srv);
    const { start, page } = await signIn(srv, `${ADMIN_ONLY} spark-admin:people_read`);
    assert.equal(
      new URL(start.location!).searchParams.get('scope'),
      `${ADMIN_ONLY} spark-admin:people_read`,
    );
    assert.doesNotMatch(text(page.body), /was added so the service/);
  });

  test('IDENTITY_SCOPE=none: nothing added, people/me not called, the page says who is unknown', async () => {
    const srv = await startTestServer({ env: { IDENTITY_SCOPE: 'none' } });
    servers.push(srv);
    const home = await new CookieBrowser().get(`${srv.url}/`);
    assert.doesNotMatch(text(home.body), /is added so the service can check/);
    const meCalls = srv.sandbox.calls.peopleMe;
    const { start, page } = await signIn(srv, ADMIN_ONLY);
    assert.equal(new URL(start.location!).searchParams.get('scope'), ADMIN_ONLY);
    assert.equal(page.status, 200);
    assert.equal(srv.sandbox.calls.peopleMe, meCalls, 'no call bound to be refused');
    assert.match(text(page.body), /Webex did not tell us who signed in/);
  });
});

describe('sandbox as Webex: people/me and token answers', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ env: { IDENTITY_SCOPE: 'none' } });
  });
  afterAll(() => srv.close());

  test('token answers carry no scope; people/me needs a people scope; org ids are base64', async () => {
    await signIn(srv, ADMIN_ONLY);
    const adminOnly = srv.sandbox.issued.at(-1)!;
    const refused = await fetch(`${srv.sandboxUrl}/v1/people/me`, {
      headers: { authorization: `Bearer ${adminOnly.access_token}` },
    });
    assert.equal(refused.status, 403);
    const body = (await refused.json()) as Record<string, unknown>;
    assert.equal(typeof body.message, 'string');
    assert.ok(Array.isArray(body.errors));
    assert.equal(typeof body.trackingId, 'string');

    await signIn(srv, 'spark:people_read');
    const reader = srv.sandbox.issued.at(-1)!;
    const me = await fetch(`${srv.sandboxUrl}/v1/people/me`, {
      headers: { authorization: `Bearer ${reader.access_token}` },
    });
    assert.equal(me.status, 200);
    const person = (await me.json()) as Record<string, string>;
    assert.equal(person.orgId, orgApiId(SANDBOX_ORG_UUID));
    assert.equal(
      Buffer.from(person.orgId!, 'base64').toString(),
      `ciscospark://us/ORGANIZATION/${SANDBOX_ORG_UUID}`,
    );

    const refreshed = await fetch(`${srv.sandboxUrl}/v1/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: reader.refresh_token,
        client_id: srv.config.clientId,
        client_secret: srv.config.clientSecret,
      }),
    });
    const answer = (await refreshed.json()) as Record<string, unknown>;
    assert.equal(refreshed.status, 200);
    assert.equal('scope' in answer, false, 'Webex sends no scope');
  });
});

describe('Webex rate limits and outages', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      env: { DEVICE_POLL_INTERVAL_SECONDS: '1' },
      sandboxOptions: { retryAfterSeconds: 11, tokenPrefix: 'RLTOK' },
    });
  });
  afterAll(() => srv.close());

  test('429 on the code exchange: a 429 page passing Retry-After on; the handoff stays pending', async () => {
    srv.sandbox.faults.token = 'http429';
    try {
      const browser = new CookieBrowser();
      const start = await browser.get(`${srv.url}/start?scope=${ADMIN_ONLY}`);
      const page = await decideAtSandbox(browser, start, 'accept');
      assert.equal(page.status, 429);
      assert.equal(page.headers.get('retry-after'), '11');
      assert.match(text(page.body), /temporarily_unavailable/);
      assert.doesNotMatch(text(page.body), /invalid_grant|SANDBOX_/);

      const h = await handoff(srv, ADMIN_ONLY);
      const done = await approveHandoff(srv.url, h.userCode);
      assert.equal(done.status, 429);
      const poll = await pollToken(srv.url, { device_code: h.deviceCode });
      assert.equal(poll.json.error, 'authorization_pending', 'the script keeps waiting');
    } finally {
      srv.sandbox.faults.token = undefined;
    }
  });

  test('429 and 503 on people/me: temporarily_unavailable, the handoff stays pending and can be approved later', async () => {
    const h = await handoff(srv, ADMIN_ONLY);
    for (const [fault, status] of [
      ['http429', 429],
      ['http503', 503],
    ] as const) {
      srv.sandbox.faults.people = fault;
      try {
        const { page } = await signIn(srv, ADMIN_ONLY);
        assert.equal(page.status, status, `${fault}: ${page.body.slice(0, 200)}`);
        assert.equal(page.headers.get('retry-after'), fault === 'http429' ? '11' : '30');
        assert.match(text(page.body), /temporarily_unavailable/);
        assert.ok(!page.body.includes('RLTOK'), 'no token shown');
        const done = await approveHandoff(srv.url, h.userCode);
        assert.equal(done.status, status);
      } finally {
        srv.sandbox.faults.people = undefined;
      }
    }
    assert.equal(
      (await pollToken(srv.url, { device_code: h.deviceCode })).json.error,
      'authorization_pending',
    );
    assert.equal((await approveHandoff(srv.url, h.userCode)).status, 200);
    await pollIntervalPassed();
    const tokens = await pollToken(srv.url, { device_code: h.deviceCode });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  });

  test('429 on refresh: 429 temporarily_unavailable with Retry-After, never invalid_grant; the refresh token still works', async () => {
    // A grant's refresh (made-up or browser-page tokens never reach Webex), asking Webex for a
    // new access token so that the refresh calls it.
    const tokens = await deliveredTokens(srv.url, { scope: ADMIN_ONLY });
    const refresh = () =>
      fetch(`${srv.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: 'cli',
          refresh_token: String(tokens.refresh_token),
          fresh_access_token: 'true',
        }),
      });
    srv.sandbox.faults.token = 'http429';
    let res: Response;
    try {
      res = await refresh();
    } finally {
      srv.sandbox.faults.token = undefined;
    }
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '11');
    const body = (await res.json()) as Record<string, string>;
    assert.equal(body.error, 'temporarily_unavailable');
    const ok = await refresh();
    assert.equal(ok.status, 200, 'the refresh token is still usable');
    const logged = events(srv).find((e) => e.event === 'webex_error' && e.status === 429);
    assert.match(String(logged?.trackingId), /^SANDBOX_/, "Webex's trackingId goes to the log");
  });
});

describe('errors on the redirect', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      env: { DEVICE_POLL_INTERVAL_SECONDS: '1' },
      sandboxOptions: {
        registeredScopes: ['spark-admin:people_read', 'spark:people_read', ADMIN_ONLY],
      },
    });
  });
  afterAll(() => srv.close());

  test('an error redirect without state explains the Webex error, not a state problem', async () => {
    srv.sandbox.faults.errorWithoutState = true;
    try {
      const { page } = await signIn(srv, 'spark-admin:people_read', 'decline');
      assert.equal(page.status, 403);
      assert.match(text(page.body), /Access denied/);
      assert.doesNotMatch(text(page.body), /cannot be finished|sign-in details/);
      assert.doesNotMatch(page.body, /declined the request/, "Webex's description is not shown");
      const logged = events(srv).find((e) => e.event === 'webex_redirect_error');
      assert.equal(logged?.withState, false);
      assert.equal(logged?.description, 'The user declined the request');

      // Nothing ties the error to a handoff: the script keeps waiting, the code still works.
      const h = await handoff(srv, 'spark-admin:people_read');
      const { page: approval, browser } = await openApproval(srv.url, h.userCode);
      const form = forms(approval.body).find((f) => f.action === '/device/approve')!;
      const toWebex = await browser.post(`${srv.url}/device/approve`, form.fields);
      const declined = await decideAtSandbox(browser, toWebex, 'decline');
      assert.equal(declined.status, 403);
      const poll = await pollToken(srv.url, { device_code: h.deviceCode });
      assert.equal(poll.json.error, 'authorization_pending');
    } finally {
      srv.sandbox.faults.errorWithoutState = false;
    }
  });

  test('an error redirect with state still finishes its handoff', async () => {
    const h = await handoff(srv, 'spark-admin:people_read');
    const declined = await approveHandoff(srv.url, h.userCode, { decision: 'decline' });
    assert.equal(declined.status, 403);
    await pollIntervalPassed();
    const poll = await pollToken(srv.url, { device_code: h.deviceCode });
    assert.equal(poll.json.error, 'access_denied');
  });

  test('invalid_scope for a scope the integration did not register names both causes', async () => {
    const browser = new CookieBrowser();
    const start = await browser.get(`${srv.url}/start?scope=spark-admin:devices_read`);
    const atWebex = await browser.get(start.location!);
    assert.equal(atWebex.status, 302, 'Webex sends the browser straight back');
    const page = await browser.get(atWebex.location!);
    assert.equal(page.status, 403);
    const shown = text(page.body);
    assert.match(shown, /invalid_scope/);
    assert.match(shown, /not entitled to them/);
    assert.match(shown, /not enabled on this service's Webex integration/);
    assert.doesNotMatch(shown, /The requested scope is invalid/, 'Webex text stays in the log');
    const logged = events(srv)
      .reverse()
      .find((e) => e.event === 'webex_redirect_error');
    assert.match(String(logged?.description), /spark-admin:devices_read/);
  });
});
