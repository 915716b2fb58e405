/**
 * Static mode (SCOPES_MODE=static, SCOPES=...) in a real Chromium: the fixed scopes are listed
 * with their descriptions, Start sends exactly those to Webex, and the tokens come back.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { describeScope } from '../../src/webex/scopes';
import { decideAtSandbox, launchBrowser, newContext } from '../helpers/browser';
import { startTestServer, type TestServer } from '../helpers/server';

const FIXED = ['spark-admin:people_read', 'spark-admin:licenses_read', 'spark:kms'];

let browser: Browser;
let srv: TestServer;

beforeAll(async () => {
  browser = await launchBrowser(); // first: a missing browser fails before anything else starts
  srv = await startTestServer({ env: { SCOPES_MODE: 'static', SCOPES: FIXED.join(' ') } });
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

test('static mode: the fixed scopes, one Start button, tokens back', async () => {
  const context = await newContext(browser, { srv });
  const page = await context.newPage();
  await page.goto(`${srv.url}/`);
  assert.equal(await page.locator('h1').textContent(), 'Get a scoped Webex token');
  assert.equal(await page.locator('input[type="checkbox"]').count(), 0, 'nothing to pick');
  assert.equal(await page.locator('#filter').count(), 0);
  const listed = await page.$$eval('ul.scopes.static li.scope', (els) =>
    els.map((li) => [
      li.querySelector('code')!.textContent!,
      li.querySelector('.desc')!.textContent!,
    ]),
  );
  assert.deepEqual(
    listed,
    FIXED.map((s) => [s, describeScope(s).description]),
  );

  const start = page.locator('#start');
  assert.equal(await start.isEnabled(), true);
  await start.click();
  await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
  assert.deepEqual(srv.sandbox.lastAuthorize?.get('scope')?.split(' '), FIXED);

  await decideAtSandbox(page, srv, 'accept');
  assert.equal(await page.locator('h1').textContent(), 'Your tokens are ready');
  assert.match(await page.locator('#access-token').inputValue(), /^SBX_AT_/);
  assert.match(await page.locator('#refresh-token').inputValue(), /^SBX_RT_/);
  assert.deepEqual(
    await page.$$eval('ul.chips code', (els) => els.map((e) => e.textContent)),
    FIXED,
  );

  // Issue 13: code and state leave the address bar, `used=1` stays; a reload says the page was
  // already used, not that it was opened without the sign-in details.
  await page.waitForURL((u) => u.search === '?used=1');
  const reloaded = await page.reload();
  assert.equal(reloaded?.status(), 400);
  const text = (await page.locator('main').textContent()) ?? '';
  assert.match(text, /This page was already used/);
  assert.doesNotMatch(text, /without the sign-in details/);
  await context.close();
});

test('static mode: a hand-made /start with other scopes is refused with a readable page', async () => {
  const context = await newContext(browser, { srv });
  const page = await context.newPage();
  const response = await page.goto(`${srv.url}/start?scope=spark-admin:devices_write`);
  assert.equal(response?.status(), 400);
  assert.equal(await page.locator('h1').textContent(), 'Scopes not available');
  assert.match((await page.locator('ul.details').textContent()) ?? '', /spark-admin:devices_write/);
  assert.match((await page.locator('.hint').textContent()) ?? '', /fixed set of scopes/);
  await context.close();
});
