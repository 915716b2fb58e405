/**
 * State before cookie: a callback address that leaked (a screenshot, a proxy log, a shared
 * screen) cannot be used to burn the sign-in. The browser binding is checked before the
 * state is taken, so a request without the cookie, or with another browser's, leaves the
 * sign-in for the browser that started it.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { CookieBrowser, forms, type Page } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';
import { send } from './support';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv?.close());

/** Sign in at the sandbox, and stop at the address Webex sends the browser back to. */
async function callbackAddress(browser: CookieBrowser, toWebex: Page): Promise<string> {
  const consent = await browser.get(toWebex.location!);
  const form = forms(consent.body)[0]!;
  const action = new URL(form.action, toWebex.location!).toString();
  const back = await browser.post(action, { ...form.fields, decision: 'accept' });
  assert.ok(back.location, `the sandbox redirects back (${back.status})`);
  return new URL(back.location, action).toString();
}

test('a leaked callback without the cookie, or with another browser, does not consume the sign-in', async () => {
  const admin = new CookieBrowser();
  const toWebex = await admin.get(`${srv.url}/start?scope=spark-admin:people_read`);
  const callback = await callbackAddress(admin, toWebex);

  const bare = await send(callback, { headers: { accept: 'text/html' } });
  assert.equal(bare.status, 400);
  assert.match(bare.body, /did not send back the cookie/);

  const stranger = new CookieBrowser();
  await stranger.get(`${srv.url}/device`); // gets a browser cookie of its own
  assert.equal(stranger.cookies.size, 1);
  const other = await stranger.get(callback);
  assert.equal(other.status, 400);
  assert.match(other.body, /started in a different browser/);
  const again = await stranger.get(callback);
  assert.match(again.body, /started in a different browser/, 'still not "already used"');

  const tokenCalls = srv.sandbox.calls.token;
  const page = await admin.get(callback);
  assert.equal(page.status, 200, page.body.slice(0, 300));
  assert.match(page.body, /Your tokens/);
  assert.equal(srv.sandbox.calls.token, tokenCalls + 1, 'exchanged once, by the real browser');

  // Single use still holds for the real browser.
  const replay = await admin.get(callback);
  assert.equal(replay.status, 400);
  assert.match(replay.body, /already been used/);
});
