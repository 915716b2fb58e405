/**
 * Issue 3, the admin side of a script handoff: what the approval page shows, CSRF on
 * Approve/Deny, one answer for wrong, expired and used codes, the user-code brute-force
 * limit (per address and per browser), and the ALLOWED_ORG_IDS refusal in both flows.
 */
import { orgApiId } from '../../src/webex/org-id';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  approveHandoff,
  decideAtSandbox,
  denyHandoff,
  openApproval,
  pollToken,
} from '../helpers/admin';
import { CookieBrowser, decodeEntities, forms, type Page } from '../helpers/http';
import { dumpPrefix } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';

/** The visible text of a page, tags dropped and whitespace collapsed. */
const text = (html: string) => decodeEntities(html.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ');

const CLIENTS = JSON.stringify([
  { id: 'cli', name: 'webex-token CLI', description: 'The bundled webex-token command' },
  { id: 'nightly', name: 'Nightly license report', description: 'Cron job on reports-01' },
]);

async function handoffFrom(
  srv: TestServer,
  opts: { address?: string; userAgent?: string; form?: Record<string, string> } = {},
) {
  const res = await fetch(`${srv.url}/oauth2/device_authorization`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(opts.address ? { 'x-forwarded-for': opts.address } : {}),
      ...(opts.userAgent ? { 'user-agent': opts.userAgent } : {}),
    },
    body: new URLSearchParams(opts.form ?? { client_id: 'cli', scope: 'spark-admin:people_read' }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, JSON.stringify(json));
  return {
    deviceCode: String(json.device_code),
    userCode: String(json.user_code),
    expiresIn: Number(json.expires_in),
  };
}

/** A browser that has loaded /device (so it holds the cookie) and the CSRF token of its form. */
async function codeForm(
  srv: TestServer,
  browser = new CookieBrowser(),
  headers: Record<string, string> = {},
) {
  const page = await browser.get(`${srv.url}/device`, headers);
  const form = forms(page.body).find((f) => f.action === '/device');
  assert.ok(form?.fields.csrf, 'the code form carries a CSRF token');
  return { browser, csrf: form.fields.csrf, page };
}

async function flowsStarted(srv: TestServer): Promise<number> {
  return (await srv.metrics.flowsStarted.get()).values.reduce((n, v) => n + v.value, 0);
}

function assert429(page: Page, what: string): void {
  assert.equal(page.status, 429, `${what}: expected 429, got ${page.status}`);
  const retry = Number(page.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 60, `${what}: Retry-After ${page.headers.get('retry-after')}`);
  assert.match(text(page.body), /Too many/i);
}

describe('approval page, CSRF and rate limits', () => {
  let srv: TestServer;
  const LIMIT = 3;
  before(async () => {
    srv = await startTestServer({
      env: {
        TRUST_PROXY: 'true',
        DEVICE_CLIENTS: CLIENTS,
        DEVICE_POLL_INTERVAL_SECONDS: '1',
        RATE_LIMIT_USER_CODE_FAILURES: String(LIMIT),
        RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000',
      },
    });
  });
  after(() => srv.close());

  test('shows client name and description, scopes with descriptions, requester address and agent, times, the warning', async () => {
    const ua = 'nightly-report/2.1 (<b>reports-01</b>)';
    const asked = Date.now();
    const h = await handoffFrom(srv, {
      address: '203.0.113.7',
      userAgent: ua,
      form: { client_id: 'nightly', scope: 'spark-admin:licenses_read spark-admin:people_read' },
    });
    // verification_uri_complete pre-fills the code.
    const browser = new CookieBrowser();
    const prefilled = await browser.get(`${srv.url}/device?user_code=${h.userCode}`);
    assert.equal(prefilled.status, 200);
    assert.equal(
      forms(prefilled.body).find((f) => f.action === '/device')?.fields.user_code,
      h.userCode,
    );

    // Typed in lower case without the dash: the same handoff.
    const { page } = await openApproval(
      srv.url,
      h.userCode.replace('-', '').toLowerCase(),
      browser,
    );
    assert.equal(page.status, 200, page.body.slice(0, 300));
    const t = text(page.body);
    assert.match(t, /Nightly license report/);
    assert.match(t, /Cron job on reports-01/);
    assert.match(t, /spark-admin:licenses_read/);
    assert.match(t, /Read the licenses of your organization/);
    assert.match(t, /spark-admin:people_read/);
    assert.match(t, /Read people, their licenses and roles in your org/);
    assert.match(t, /203\.0\.113\.7/);
    assert.ok(t.includes(ua), 'the user agent is shown as sent');
    assert.ok(
      !page.body.includes('<b>reports-01</b>'),
      'the user agent is escaped, not rendered as HTML',
    );
    assert.match(t, /only approve a request you started yourself or were expecting/i);
    assert.ok(t.includes(h.userCode), 'the page names the code in its display form');
    const times = [...page.body.matchAll(/datetime="([^"]+)"/g)].map((m) => Date.parse(m[1]!));
    assert.equal(times.length, 2, 'asked-at and expires-at times');
    assert.ok(Math.abs(times[0]! - asked) < 5000, 'asked at: when the script asked');
    assert.equal(times[1]! - times[0]!, h.expiresIn * 1000, 'expires: asked + expires_in');
    assert.ok(!page.body.includes(h.deviceCode), 'the device code never reaches the admin');
    const names = forms(page.body).map((f) => f.action);
    assert.ok(
      names.includes('/device/approve') && names.includes('/device/deny'),
      'Approve and Deny forms',
    );
  });

  test('Approve, Deny and code entry without the right CSRF token: 403, and the request stays pending', async () => {
    const h = await handoffFrom(srv);
    const { page, browser } = await openApproval(srv.url, h.userCode);
    const approve = forms(page.body).find((f) => f.action === '/device/approve')!;
    const deny = forms(page.body).find((f) => f.action === '/device/deny')!;
    assert.ok(approve.fields.csrf && approve.fields.handoff);

    const noCsrf = { handoff: approve.fields.handoff! };
    assert.equal((await browser.post(`${srv.url}/device/approve`, noCsrf)).status, 403);
    assert.equal((await browser.post(`${srv.url}/device/deny`, noCsrf)).status, 403);
    assert.equal(
      (await browser.post(`${srv.url}/device/approve`, { ...noCsrf, csrf: 'x'.repeat(43) })).status,
      403,
    );
    assert.equal((await browser.post(`${srv.url}/device`, { user_code: h.userCode })).status, 403);
    // Another browser (a forged cross-site post carries no cookie of ours) with a stolen token.
    const stranger = new CookieBrowser();
    assert.equal((await stranger.post(`${srv.url}/device/approve`, approve.fields)).status, 403);
    assert.equal((await stranger.post(`${srv.url}/device/deny`, deny.fields)).status, 403);
    assert.equal(await flowsStarted(srv), 0, 'no sign-in was started by a forged form');

    const pending = await pollToken(srv.url, { device_code: h.deviceCode });
    assert.equal(pending.json.error, 'authorization_pending', 'nothing was approved or denied');
    // With the token, from the right browser, Approve goes to Webex.
    const toWebex = await browser.post(`${srv.url}/device/approve`, approve.fields);
    assert.equal(toWebex.status, 302);
    assert.ok(toWebex.location?.startsWith(`${srv.sandboxUrl}/v1/authorize?`));
  });

  test('user-code guessing is stopped per address: 429 with Retry-After, even for the right code', async () => {
    const h = await handoffFrom(srv);
    const address = { 'x-forwarded-for': '198.51.100.10' };
    // Different browsers, one address.
    for (let i = 0; i < LIMIT; i++) {
      const { browser, csrf } = await codeForm(srv, new CookieBrowser(), address);
      const page = await browser.post(
        `${srv.url}/device`,
        { csrf, user_code: 'BBBB-BBBB' },
        address,
      );
      assert.equal(page.status, 400, `wrong entry ${i + 1} is answered normally`);
    }
    const { browser, csrf } = await codeForm(srv, new CookieBrowser(), address);
    assert429(
      await browser.post(`${srv.url}/device`, { csrf, user_code: h.userCode }, address),
      'per address',
    );
    // Another address is not affected.
    const elsewhere = { 'x-forwarded-for': '198.51.100.11' };
    const fresh = await codeForm(srv, new CookieBrowser(), elsewhere);
    const ok = await fresh.browser.post(
      `${srv.url}/device`,
      { csrf: fresh.csrf, user_code: h.userCode },
      elsewhere,
    );
    assert.equal(ok.status, 200);
    assert.match(text(ok.body), /Approve this request\?/);
  });

  test('user-code guessing is stopped per browser, whatever address it comes from', async () => {
    const h = await handoffFrom(srv);
    const { browser, csrf } = await codeForm(srv);
    for (let i = 0; i < LIMIT; i++) {
      const addr = { 'x-forwarded-for': `198.51.100.${20 + i}` };
      assert.equal(
        (await browser.post(`${srv.url}/device`, { csrf, user_code: `CCCC-CCC${'BDF'[i]}` }, addr))
          .status,
        400,
      );
    }
    assert429(
      await browser.post(
        `${srv.url}/device`,
        { csrf, user_code: h.userCode },
        { 'x-forwarded-for': '198.51.100.30' },
      ),
      'per browser',
    );
    // A brute-force loop from that browser gets nothing but 429s.
    for (const guess of ['DDDD-DDDD', 'FFFF-FFFF', h.userCode]) {
      assert429(
        await browser.post(
          `${srv.url}/device`,
          { csrf, user_code: guess },
          { 'x-forwarded-for': '198.51.100.31' },
        ),
        'loop',
      );
    }
    const other = await codeForm(srv, new CookieBrowser(), { 'x-forwarded-for': '198.51.100.32' });
    const ok = await other.browser.post(
      `${srv.url}/device`,
      { csrf: other.csrf, user_code: h.userCode },
      { 'x-forwarded-for': '198.51.100.32' },
    );
    assert.equal(ok.status, 200);
  });
});

describe('wrong, expired and used codes', () => {
  let srv: TestServer;
  // The flows' clock: real time plus what the test skips, so expiry needs no real wait (which
  // raced the work before it on a loaded machine).
  let skippedMs = 0;
  before(async () => {
    srv = await startTestServer({
      env: {
        DEVICE_CODE_TTL_SECONDS: '60',
        DEVICE_POLL_INTERVAL_SECONDS: '1',
        RATE_LIMIT_USER_CODE_FAILURES: '20',
      },
      now: () => Date.now() + skippedMs,
    });
  });
  after(() => srv.close());

  test('all get the same answer, and approving an expired request is refused', async () => {
    const expiring = await handoffFrom(srv);
    const denied = await handoffFrom(srv);
    const approved = await handoffFrom(srv);
    const late = await handoffFrom(srv);
    assert.equal((await denyHandoff(srv.url, denied.userCode)).status, 200);
    assert.equal((await approveHandoff(srv.url, approved.userCode)).status, 200);
    const delivered = await pollToken(srv.url, { device_code: approved.deviceCode });
    assert.equal(delivered.status, 200);
    // The admin opened the page in time, but presses Approve after expiry.
    const { page: latePage, browser: lateBrowser } = await openApproval(srv.url, late.userCode);
    assert.equal(latePage.status, 200);
    skippedMs += 61_000;

    const { browser, csrf } = await codeForm(srv);
    const answers: Page[] = [];
    for (const code of [
      'BBBB-BBBB',
      expiring.userCode,
      denied.userCode,
      approved.userCode,
      'not-a-code',
    ]) {
      answers.push(await browser.post(`${srv.url}/device`, { csrf, user_code: code }));
    }
    for (const a of answers) assert.equal(a.status, 400);
    assert.match(text(answers[0]!.body), /not valid/);
    // Each page keeps the code that was typed (issue 13); apart from that, they are the same.
    const typed = (html: string) =>
      forms(html).find((f) => f.action === '/device')?.fields.user_code;
    assert.equal(typed(answers[1]!.body), expiring.userCode);
    const strip = (html: string) =>
      html.replace(/nonce="[^"]*"/g, '').replace(/name="user_code" value="[^"]*"/, '');
    for (const a of answers.slice(1))
      assert.equal(strip(a.body), strip(answers[0]!.body), 'indistinguishable answers');

    const approve = forms(latePage.body).find((f) => f.action === '/device/approve')!;
    const refused = await lateBrowser.post(`${srv.url}/device/approve`, approve.fields);
    assert.equal(refused.status, 410);
    assert.match(text(refused.body), /no longer waiting/i);
    assert.equal(
      (await pollToken(srv.url, { device_code: late.deviceCode })).json.error,
      'expired_token',
    );
  });
});

describe('ALLOWED_ORG_IDS', () => {
  let srv: TestServer;
  const OURS = '0c3f7a52-1111-4a4a-8b8b-000000000001';
  const PARTNER = '0c3f7a52-2222-4a4a-8b8b-000000000002';
  const ELSEWHERE = '0c3f7a52-3333-4a4a-8b8b-000000000003';
  before(async () => {
    srv = await startTestServer({
      // One UUID as Control Hub shows it, one in the API's base64 form: the same org either way.
      env: {
        ALLOWED_ORG_IDS: `${OURS},${orgApiId(PARTNER)}`,
        DEVICE_POLL_INTERVAL_SECONDS: '1',
      },
      sandboxOptions: { orgId: ELSEWHERE, tokenPrefix: 'ORGTK' },
    });
  });
  after(() => srv.close());

  test('an admin of another organization: tokens discarded, handoff denied, the admin is told why', async () => {
    const h = await handoffFrom(srv);
    const calls = srv.sandbox.calls.token;
    const page = await approveHandoff(srv.url, h.userCode);
    assert.equal(
      srv.sandbox.calls.token,
      calls + 1,
      'the code was exchanged, then the tokens discarded',
    );
    assert.equal(page.status, 403);
    assert.match(text(page.body), /organization this service does not serve/);
    assert.match(text(page.body), /ALLOWED_ORG_IDS|allowed organization/);
    assert.ok(!page.body.includes('ORGTK'), 'no token on the page');

    const poll = await pollToken(srv.url, { device_code: h.deviceCode });
    assert.equal(poll.status, 400);
    assert.equal(poll.json.error, 'access_denied');
    assert.match(String(poll.json.error_description), /organization/);
    const dump = await dumpPrefix(srv.redis!.url, srv.redis!.prefix);
    for (const [k, v] of dump)
      assert.ok(
        !v.includes('ORGTK') && !k.includes('result:'),
        `nothing of the tokens kept (${k})`,
      );
    const denied = srv.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.event === 'handoff_denied');
    assert.equal(denied?.reason, 'org_not_allowed');
    assert.equal(denied?.orgId, ELSEWHERE);
  });

  test('the same check refuses the browser flow', async () => {
    const browser = new CookieBrowser();
    const start = await browser.get(`${srv.url}/start?scope=spark-admin:people_read`);
    assert.equal(start.status, 302);
    const page = await decideAtSandbox(browser, start, 'accept');
    assert.equal(page.status, 403);
    assert.match(text(page.body), /organization this service does not serve/);
    assert.ok(!page.body.includes('ORGTK'), 'the browser flow shows no token either');
  });

  test('an allowed organization gets through both flows', async () => {
    const admin = srv.sandbox.users.admin;
    admin.orgId = PARTNER;
    try {
      const h = await handoffFrom(srv);
      assert.equal((await approveHandoff(srv.url, h.userCode)).status, 200);
      const tokens = await pollToken(srv.url, { device_code: h.deviceCode });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
      const browser = new CookieBrowser();
      const page = await decideAtSandbox(
        browser,
        await browser.get(`${srv.url}/start?scope=spark-admin:people_read`),
        'accept',
      );
      assert.equal(page.status, 200);
      assert.match(page.body, /ORGTK_AT_/);
    } finally {
      admin.orgId = ELSEWHERE;
    }
  });
});
