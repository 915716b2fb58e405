/**
 * A script's handoff approved in a real Chromium: the script asks over HTTP (as curl would),
 * the admin types the code (lowercase, no dash) on the verification page, checks who asked,
 * approves, accepts at the sandbox and sees "Approved; waiting for the script"; the script's
 * poll then gets the tokens, and the page turns to "Delivered" by itself. Also: verification_uri_complete pre-fills the code, Deny, and a wrong code.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { describeScope } from '../../src/webex/scopes';
import { pollToken, requestHandoff } from '../helpers/admin';
import { decideAtSandbox, launchBrowser, newContext } from '../helpers/browser';
import { startTestServer, type TestServer } from '../helpers/server';
import { pollIntervalPassed } from '../helpers/time';

const SCOPES = ['spark-admin:people_read', 'spark-admin:devices_read'];

let browser: Browser;
let srv: TestServer;

beforeAll(async () => {
  browser = await launchBrowser(); // first: a missing browser fails before anything else starts
  srv = await startTestServer({ env: { DEVICE_POLL_INTERVAL_SECONDS: '1' } });
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

test('handoff: type the code, check the requester, approve, tokens delivered to the script', async () => {
  const auth = await requestHandoff(srv.url, { client_id: 'cli', scope: SCOPES.join(' ') });
  assert.equal(auth.status, 200, JSON.stringify(auth.json));
  const userCode = String(auth.json.user_code);
  const deviceCode = String(auth.json.device_code);
  assert.match(userCode, /^[A-Z]{4}-[A-Z]{4}$/);
  const pending = await pollToken(srv.url, { device_code: deviceCode });
  assert.equal(pending.json.error, 'authorization_pending');
  const polledAt = Date.now();

  const context = await newContext(browser, { srv });
  const page = await context.newPage();
  await page.goto(String(auth.json.verification_uri));
  assert.equal(await page.locator('h1').textContent(), "Approve a script's request");
  assert.equal(await page.locator('nav a[aria-current="page"]').textContent(), 'Approve a script');
  // Typed the sloppy way: lowercase, without the dash.
  await page.locator('#user_code').pressSequentially(userCode.replace('-', '').toLowerCase());
  await page.getByRole('button', { name: 'Continue' }).click();

  assert.equal(await page.locator('h1').textContent(), 'Approve this request?');
  assert.match(
    (await page.locator('.warning').textContent()) ?? '',
    /Only approve a request you started yourself or were expecting\./,
  );
  const details = Object.fromEntries(
    await page.$$eval('.request dt', (dts) =>
      dts.map((dt) => [
        dt.textContent!.trim(),
        dt.nextElementSibling!.textContent!.trim().replace(/\s+/g, ' '),
      ]),
    ),
  );
  assert.equal(details.Script, 'webex-token CLI — The bundled webex-token command');
  assert.match(details['Source address (claimed)']!, /^(::ffff:)?127\.0\.0\.1$/);
  // Node's fetch sends "node": that names no one, so the page says unknown (issue 13).
  assert.equal(details['User agent (claimed)'], 'unknown');
  assert.match(details['Asked at']!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.match(details.Expires!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.equal(details.Code, userCode);
  const scopes = await page.$$eval('ul.scopes.static li.scope', (els) =>
    els.map((li) => [
      li.querySelector('code')!.textContent!,
      li.querySelector('.desc')!.textContent!,
    ]),
  );
  assert.deepEqual(
    scopes,
    SCOPES.map((s) => [s, describeScope(s).description]),
  );

  await page.getByRole('button', { name: 'Approve and sign in with Webex' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
  assert.deepEqual(srv.sandbox.lastAuthorize?.get('scope')?.split(' '), SCOPES);
  await decideAtSandbox(page, srv, 'accept');
  assert.equal(await page.locator('h1').textContent(), 'Approved for webex-token CLI');
  assert.match(
    (await page.locator('.done').textContent()) ?? '',
    /Approved as ada\.admin@sandbox\.example\./,
  );
  assert.equal(await page.locator('textarea').count(), 0, 'the admin never sees the tokens');
  const state = page.locator('.handoff-state');
  assert.equal(
    await state.textContent(),
    'Approved; waiting for the script to pick the tokens up. It receives them on its next poll; you never see them here, and they are gone from this service once delivered.',
  );

  await pollIntervalPassed(polledAt);
  const tokens = await pollToken(srv.url, { device_code: deviceCode });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  // The page follows the handoff without a reload (app.js polls its status endpoint).
  const url = page.url();
  await page.locator('.handoff-state[data-state="delivered"]').waitFor({ timeout: 15_000 });
  assert.match((await state.textContent()) ?? '', /^Delivered: the script picked the tokens up\./);
  assert.equal(page.url(), url, 'no reload, no navigation');
  assert.match(String(tokens.json.access_token), /^SBX_AT_/);
  assert.match(String(tokens.json.refresh_token), /^wst_rt_[A-Za-z0-9_-]{43}$/);
  assert.equal(tokens.json.scope, SCOPES.join(' '));
  assert.equal((await page.content()).includes(String(tokens.json.access_token)), false);
  await pollIntervalPassed();
  const again = await pollToken(srv.url, { device_code: deviceCode });
  assert.equal(again.json.error, 'invalid_grant', 'delivered exactly once');
  await context.close();
});

test('handoff: verification_uri_complete pre-fills the code; Deny tells the script', async () => {
  const auth = await requestHandoff(srv.url);
  const context = await newContext(browser, { srv });
  const page = await context.newPage();
  await page.goto(String(auth.json.verification_uri_complete));
  assert.equal(await page.locator('#user_code').inputValue(), auth.json.user_code);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('button', { name: 'Deny' }).click();
  assert.equal(await page.locator('h1').textContent(), 'Request denied');
  assert.match(
    (await page.locator('.done').textContent()) ?? '',
    /webex-token CLI will be told that the request was denied/,
  );
  const denied = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
  assert.equal(denied.json.error, 'access_denied');
  await context.close();
});

test('handoff: a wrong code is refused on the same page, with an alert', async () => {
  const context = await newContext(browser, { srv });
  const page = await context.newPage();
  await page.goto(`${srv.url}/device`);
  await page.locator('#user_code').fill('bbbb-bbbb');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${srv.url}/device` && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Continue' }).click(),
  ]);
  assert.equal(response.status(), 400);
  assert.match((await page.getByRole('alert').textContent()) ?? '', /That code is not valid/);
  // Issue 13: what was typed stays, to be corrected rather than typed again.
  assert.equal(await page.locator('#user_code').inputValue(), 'bbbb-bbbb');
  await context.close();
});
