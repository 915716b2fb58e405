/**
 * Issue 16, the grants console over HTTP: the Webex sign-in asks for spark:people_read only,
 * the session cookie holds a random id with the right flags, everyone sees their own approvals
 * and CONSOLE_ADMINS their org's, revoking needs the page's CSRF token and a grant one may
 * manage (403 alike for another's and an unknown one), and no token reaches a page or a log.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type Koa from 'koa';
import { loadConfig } from '../../src/config';
import { getGrant } from '../../src/flows/grants';
import { consoleCookieName, setConsoleCookie } from '../../src/routes/grants';
import { requestHandoff, pollToken, decideAtSandbox, openApproval } from '../helpers/admin';
import { events, refresh } from '../helpers/grants';
import { CookieBrowser, forms, type Page } from '../helpers/http';
import { dumpPrefix } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';
import { skippingClock } from '../helpers/time';

const ADA = 'ada.admin@sandbox.example';
const UMA = 'uma.user@sandbox.example';

let srv: TestServer;
const pages: Page[] = [];
/** The service's clock (the flows' `now`), moved forward for the session's expiry. */
const clock = skippingClock();

beforeAll(async () => {
  srv = await startTestServer({
    env: {
      CONSOLE_ADMINS: ADA,
      RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000',
      RATE_LIMIT_STARTS: '1000',
    },
    sandboxOptions: { tokenPrefix: 'CONSOLETK' },
    now: clock.now,
  });
});
afterAll(() => srv?.close());

/** A script's handoff approved by Ada ('accept') or Uma ('non-admin'); returns its tokens. */
async function grantBy(decision: 'accept' | 'non-admin'): Promise<Record<string, unknown>> {
  const auth = await requestHandoff(srv.url, { client_id: 'cli', scope: 'spark:people_read' });
  assert.equal(auth.status, 200, JSON.stringify(auth.json));
  const { page, browser } = await openApproval(srv.url, String(auth.json.user_code));
  const approve = forms(page.body).find((f) => f.action === '/device/approve');
  assert.ok(approve, page.body.slice(0, 300));
  const toWebex = await browser.post(`${srv.url}/device/approve`, approve.fields);
  const done = await decideAtSandbox(browser, toWebex, decision);
  assert.equal(done.status, 200, done.body.slice(0, 300));
  const tokens = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  return tokens.json;
}

const grantIdOf = (json: Record<string, unknown>) =>
  String((json.webex_scoped_tokens as Record<string, unknown>).grant_id);

/** Sign in to the console as Ada or Uma; returns the browser and the redirect back to /grants. */
async function signIn(decision: 'accept' | 'non-admin') {
  const browser = new CookieBrowser();
  const toWebex = await browser.get(`${srv.url}/grants/signin`);
  assert.equal(toWebex.status, 302);
  assert.equal(
    new URL(toWebex.location!).searchParams.get('scope'),
    'spark:people_read',
    'the console asks Webex for a people-reading scope only',
  );
  const back = await decideAtSandbox(browser, toWebex, decision);
  pages.push(back);
  for (const [k, v] of browser.cookies) if (k.endsWith('|wst_console')) sessionIds.push(v);
  const grants = await browser.get(`${srv.url}/grants`);
  pages.push(grants);
  return { browser, back, grants };
}

const csrfOf = (page: Page) =>
  forms(page.body).find((f) => f.action === '/grants/signout')?.fields.csrf ?? '';

let adaGrant: Record<string, unknown>;
let umaGrant: Record<string, unknown>;
const rotatedTokens: string[] = [];
/** Console session ids seen in cookies: they must not reach the logs either. */
const sessionIds: string[] = [];

describe('grants console over HTTP', () => {
  beforeAll(async () => {
    adaGrant = await grantBy('accept');
    umaGrant = await grantBy('non-admin');
  });

  test('signed out: a sign-in page, never cached', async () => {
    const page = await new CookieBrowser().get(`${srv.url}/grants`);
    pages.push(page);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('cache-control') ?? '', /no-store/);
    assert.match(page.body, /href="\/grants\/signin"/);
    assert.doesNotMatch(page.body, new RegExp(grantIdOf(adaGrant)));
  });

  test('the session cookie: a random id, HttpOnly, SameSite=Lax, 30 minutes; the redirect carries nothing', async () => {
    const { back, browser } = await signIn('accept');
    assert.equal(back.status, 303);
    assert.equal(back.location, '/grants', 'no token or code in the address');
    const line = back.headers.getSetCookie().find((c) => c.startsWith('wst_console='));
    assert.ok(line, back.headers.getSetCookie().join(' | '));
    const [pair, ...flags] = line.split(';').map((s) => s.trim().toLowerCase());
    assert.match(line, /^wst_console=[A-Za-z0-9_-]{43};/);
    assert.ok(flags.includes('httponly'));
    assert.ok(flags.includes('samesite=lax'));
    assert.ok(flags.includes('path=/'));
    assert.ok(flags.includes('max-age=1800'));
    assert.ok(!flags.includes('secure'), 'no Secure over plain http');
    const value = pair!.slice('wst_console='.length);
    for (const issued of srv.sandbox.issued) {
      assert.ok(!issued.access_token.toLowerCase().includes(value), 'the cookie is no token');
    }
    assert.ok(browser.cookies.size > 0);
  });

  test('behind https the cookie is Secure and __Host- prefixed', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      PUBLIC_URL: 'https://tokens.example.com',
      CLIENT_ID: 'x',
      CLIENT_SECRET: 'y',
    });
    const set: string[] = [];
    const ctx = { append: (_: string, v: string) => set.push(v) } as unknown as Koa.Context;
    setConsoleCookie(ctx, config, 'a'.repeat(43));
    assert.equal(consoleCookieName(config), '__Host-wst_console');
    assert.match(
      set[0]!,
      /^__Host-wst_console=a{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=1800; Secure$/,
    );
  });

  test('a non-admin sees only their approvals; a CONSOLE_ADMINS email sees the whole org', async () => {
    const uma = await signIn('non-admin');
    assert.match(uma.grants.body, new RegExp(`grant-${grantIdOf(umaGrant)}`));
    assert.doesNotMatch(uma.grants.body, new RegExp(grantIdOf(adaGrant)));
    assert.match(uma.grants.body, new RegExp(UMA.replace('.', '\\.')));

    const ada = await signIn('accept');
    assert.match(ada.grants.body, new RegExp(`grant-${grantIdOf(umaGrant)}`));
    assert.match(ada.grants.body, new RegExp(`grant-${grantIdOf(adaGrant)}`));
    assert.match(ada.grants.body, /console administrator/);
  });

  test('revoking a grant one may not manage: 403, the same as for a grant that does not exist', async () => {
    const uma = await signIn('non-admin');
    const csrf = csrfOf(uma.grants);
    assert.ok(csrf);
    const others = await uma.browser.post(`${srv.url}/grants/${grantIdOf(adaGrant)}/revoke`, {
      csrf,
    });
    const unknown = await uma.browser.post(`${srv.url}/grants/${'A'.repeat(22)}/revoke`, { csrf });
    pages.push(others, unknown);
    assert.equal(others.status, 403);
    assert.equal(unknown.status, 403);
    assert.equal(others.body, unknown.body, 'nothing tells the two apart');
    const confirm = await uma.browser.get(`${srv.url}/grants/${grantIdOf(adaGrant)}/revoke`);
    assert.equal(confirm.status, 403);
    assert.equal((await getGrant(srv.flow, grantIdOf(adaGrant)))?.state, 'active');
  });

  test('CSRF: no token, a wrong token, or another session’s token revokes nothing', async () => {
    const ada = await signIn('accept');
    const uma = await signIn('non-admin');
    const target = `${srv.url}/grants/${grantIdOf(umaGrant)}/revoke`;
    const attempts = [
      await ada.browser.post(target, {}),
      await ada.browser.post(target, { csrf: 'x'.repeat(43) }),
      await ada.browser.post(target, { csrf: csrfOf(uma.grants) }),
      await new CookieBrowser().post(target, { csrf: csrfOf(ada.grants) }),
    ];
    for (const res of attempts) {
      assert.equal(res.status, 403);
      assert.match(res.body, /security token/);
    }
    assert.equal((await getGrant(srv.flow, grantIdOf(umaGrant)))?.state, 'active');
  });

  test('revoke with the confirmation: the refresh then fails with invalid_grant, the audit names the admin', async () => {
    const uma = await signIn('non-admin');
    const id = grantIdOf(umaGrant);
    const rotated = await refresh(srv.url, String(umaGrant.refresh_token));
    assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
    const newest = String(rotated.json.refresh_token);
    rotatedTokens.push(newest);
    const confirm = await uma.browser.get(`${srv.url}/grants/${id}/revoke`);
    pages.push(confirm);
    assert.equal(confirm.status, 200);
    assert.match(confirm.body, /stays valid at Webex/);
    const form = forms(confirm.body).find((f) => f.action === `/grants/${id}/revoke`);
    assert.ok(form);
    const done = await uma.browser.post(`${srv.url}${form.action}`, form.fields);
    assert.equal(done.status, 303);
    assert.equal(done.location, `/grants?revoked=${id}`);
    const after = await uma.browser.get(`${srv.url}${done.location}`);
    pages.push(after);
    assert.match(after.body, /Revoked the grant of/);
    assert.match(after.body, /Revoked by uma\.user@sandbox\.example in the console/);

    const grant = await getGrant(srv.flow, id);
    assert.equal(grant?.state, 'revoked');
    const refused = await refresh(srv.url, newest);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'invalid_grant');
    const audit = events(srv.logs, 'grant_revoked').find((e) => e.grant === id);
    assert.deepEqual((audit?.by as Record<string, unknown>)?.email, UMA);
    assert.equal((audit?.by as Record<string, unknown>)?.kind, 'admin');
  });

  test('sign out ends the session server-side', async () => {
    const ada = await signIn('accept');
    const cookie = [...ada.browser.cookies.entries()].find(([k]) => k.endsWith('|wst_console'));
    assert.ok(cookie);
    const out = await ada.browser.post(`${srv.url}/grants/signout`, { csrf: csrfOf(ada.grants) });
    assert.equal(out.status, 303);
    assert.match(out.headers.getSetCookie().join(';'), /wst_console=; .*Max-Age=0/);
    const stale = new CookieBrowser();
    stale.cookies.set(cookie[0], cookie[1]);
    const page = await stale.get(`${srv.url}/grants`);
    assert.match(page.body, /href="\/grants\/signin"/, 'the old cookie opens nothing');
  });

  test('the session ends after 30 minutes', async () => {
    const ada = await signIn('accept');
    assert.match(ada.grants.body, /Sign out/);
    clock.advance(29 * 60_000);
    try {
      assert.match((await ada.browser.get(`${srv.url}/grants`)).body, /Sign out/);
      clock.advance(2 * 60_000);
      const later = await ada.browser.get(`${srv.url}/grants`);
      assert.match(later.body, /href="\/grants\/signin"/);
      const revoke = await ada.browser.post(`${srv.url}/grants/${grantIdOf(adaGrant)}/revoke`, {
        csrf: csrfOf(ada.grants),
      });
      assert.equal(revoke.status, 401, 'an expired session revokes nothing');
    } finally {
      clock.reset();
    }
    assert.equal((await getGrant(srv.flow, grantIdOf(adaGrant)))?.state, 'active');
  });

  test('no session when Webex does not say who signed in', async () => {
    srv.sandbox.faults.people = 'http403';
    try {
      const browser = new CookieBrowser();
      const toWebex = await browser.get(`${srv.url}/grants/signin`);
      const back = await decideAtSandbox(browser, toWebex, 'accept');
      pages.push(back);
      assert.equal(back.status, 502);
      assert.match(back.body, /did not tell us who signed in/);
      assert.ok(!back.headers.getSetCookie().some((c) => c.startsWith('wst_console=')));
    } finally {
      delete srv.sandbox.faults.people;
    }
  });

  test('Redis holds console sessions sealed, under keyed hashes of their ids', async () => {
    const dump = await dumpPrefix(srv.redis!.url, srv.redis!.prefix);
    const sessions = [...dump].filter(([k]) => k.includes('console:'));
    assert.ok(sessions.length > 0, 'sessions are in the store');
    for (const [key, value] of sessions) {
      assert.match(value, /^v1\./, 'sealed');
      assert.ok(!value.includes('@sandbox.example'), 'no email in clear');
      for (const id of sessionIds) assert.ok(!key.includes(id), 'no session id in a key');
    }
  });

  test('no token in any console page or in the logs', () => {
    const secrets = [
      ...srv.sandbox.issued.flatMap((t) => [t.access_token, t.refresh_token]),
      String(adaGrant.refresh_token),
      String(umaGrant.refresh_token),
      ...rotatedTokens,
    ];
    assert.ok(secrets.length >= 4);
    const logs = srv.logs.join('\n');
    for (const secret of secrets) {
      for (const page of pages) assert.ok(!page.body.includes(secret), `a token in ${page.url}`);
      assert.ok(!logs.includes(secret), 'a token in the logs');
    }
    for (const page of pages) assert.doesNotMatch(page.body, /wst_rt_|CONSOLETK_/);
    assert.ok(sessionIds.length > 3);
    for (const id of sessionIds) assert.ok(!logs.includes(id), 'a console session id in the logs');
    assert.ok(events(srv.logs, 'console_signed_in').length > 0);
  });
});
