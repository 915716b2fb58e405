/**
 * With JavaScript disabled the essential paths still work: plain links, a GET form to /start
 * with checkboxes, the sandbox's form, the tokens page; and the device approval forms.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { SCOPE_PRESETS } from '../../src/webex/scopes';
import { pollToken, requestHandoff } from '../helpers/admin';
import { decideAtSandbox, launchBrowser, newContext } from '../helpers/browser';
import { startTestServer, type TestServer } from '../helpers/server';
import { pollIntervalPassed } from '../helpers/time';

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

const noJs = () => newContext(browser, { srv, javaScriptEnabled: false });

test('no JavaScript: tick scopes, Start, accept, tokens shown', async () => {
  const context = await noJs();
  const page = await context.newPage();
  await page.goto(`${srv.url}/`);
  assert.equal(
    await page.locator('.filter').isHidden(),
    true,
    'the filter needs JS, so it stays hidden',
  );
  assert.equal(await page.locator('label.select-all').first().isHidden(), true);
  assert.equal(await page.locator('#start').isEnabled(), true, 'Start is a plain submit button');

  const picked = ['spark-admin:people_read', 'spark-compliance:messages_read'];
  for (const s of picked) await page.locator(`li.scope:has(input[value="${s}"]) label`).click();
  await page.locator('#start').click();
  await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
  assert.deepEqual(srv.sandbox.lastAuthorize?.get('scope')?.split(' '), picked);

  await decideAtSandbox(page, srv, 'accept');
  assert.equal(await page.locator('h1').textContent(), 'Your tokens are ready');
  assert.match(await page.locator('#access-token').inputValue(), /^SBX_AT_/);
  assert.match(await page.locator('#refresh-token').inputValue(), /^SBX_RT_/);
  assert.equal(
    await page.locator('button.copy').first().isHidden(),
    true,
    'no dead Copy buttons without JS',
  );
  await context.close();
});

test('no JavaScript: a preset is a link that preselects its scopes on the server', async () => {
  const context = await noJs();
  const page = await context.newPage();
  await page.goto(`${srv.url}/`);
  const preset = SCOPE_PRESETS.find((p) => p.id === 'device-manager')!;
  await page.locator('a.preset', { hasText: preset.label }).click();
  assert.equal(new URL(page.url()).search, '?preset=device-manager');
  const expected = preset.scopes.filter((s) => srv.config.allowedScopes.includes(s));
  const checked = await page.$$eval('input[name="scope"]:checked', (els) =>
    els.map((e) => (e as HTMLInputElement).value),
  );
  assert.deepEqual([...checked].sort(), [...expected].sort());
  await page.locator('#start').click();
  await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
  // None of the device scopes reads people/me, so the identity scope goes to Webex too.
  assert.deepEqual(
    srv.sandbox.lastAuthorize?.get('scope')?.split(' ').sort(),
    [...expected, 'spark:people_read'].sort(),
  );
  await context.close();
});

test('no JavaScript: Start with nothing ticked explains what to do', async () => {
  const context = await noJs();
  const page = await context.newPage();
  await page.goto(`${srv.url}/`);
  await page.locator('#start').click();
  assert.equal(await page.locator('h1').textContent(), 'Pick at least one scope');
  await context.close();
});

test('no JavaScript: approve a script through the verification forms', async () => {
  const auth = await requestHandoff(srv.url);
  const context = await noJs();
  const page = await context.newPage();
  await page.goto(`${srv.url}/device`);
  await page.locator('#user_code').fill(String(auth.json.user_code).toLowerCase());
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.equal(await page.locator('h1').textContent(), 'Approve this request?');
  await page.getByRole('button', { name: 'Approve and sign in with Webex' }).click();
  await decideAtSandbox(page, srv, 'accept');
  assert.equal(await page.locator('h1').textContent(), 'Approved for webex-token CLI');
  await pollIntervalPassed();
  const tokens = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  assert.match(String(tokens.json.access_token), /^SBX_AT_/);
  await context.close();
});
