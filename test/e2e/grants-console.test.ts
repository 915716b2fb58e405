/**
 * Issue 16, the grants console in a real Chromium: an admin signs in with Webex, sees the grant
 * a script got through a device-flow approval, revokes it through the confirmation page, and
 * the script's next refresh fails; a non-admin sees only their approvals; axe-core finds no
 * serious or critical violation on the console's pages, light and dark; every control is
 * reachable with Tab and shows its focus.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { approveHandoff, pollToken, requestHandoff } from '../helpers/admin';
import {
  axeViolations,
  decideAtSandbox,
  formatViolations,
  horizontalOverflow,
  keyboardControls,
  launchBrowser,
  newContext,
  PHONE,
  screenshot,
  tabThrough,
  unlabelledFields,
} from '../helpers/browser';
import { refresh } from '../helpers/grants';
import { startTestServer, type TestServer } from '../helpers/server';

let browser: Browser;
let srv: TestServer;

beforeAll(async () => {
  browser = await launchBrowser();
  srv = await startTestServer({
    env: { CONSOLE_ADMINS: 'ada.admin@sandbox.example', RATE_LIMIT_STARTS: '1000' },
  });
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

/** A script's tokens, approved by Ada ('accept') or Uma ('non-admin') over HTTP. */
async function scriptTokens(decision: 'accept' | 'non-admin') {
  const auth = await requestHandoff(srv.url, { client_id: 'cli', scope: 'spark:people_read' });
  const done = await approveHandoff(srv.url, String(auth.json.user_code), { decision });
  assert.equal(done.status, 200, done.body.slice(0, 300));
  const tokens = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  const meta = tokens.json.webex_scoped_tokens as Record<string, unknown>;
  return { refreshToken: String(tokens.json.refresh_token), grantId: String(meta.grant_id) };
}

async function signIn(page: Page, decision: 'accept' | 'non-admin'): Promise<void> {
  await page.goto(`${srv.url}/grants`);
  await page.getByRole('link', { name: 'Sign in with Webex' }).click();
  await decideAtSandbox(page, srv, decision);
  await page.waitForURL(`${srv.url}/grants`);
  await page.waitForLoadState('load');
}

async function noViolations(page: Page, name: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `${name}:\n${formatViolations(violations)}`);
  assert.deepEqual(await unlabelledFields(page), [], `${name}: every field has a label`);
}

async function everyControlHasVisibleFocus(page: Page, name: string): Promise<void> {
  const controls = await keyboardControls(page);
  const stops = await tabThrough(page, controls.length + 5);
  const reached = new Set(stops.map((s) => s.what));
  assert.deepEqual(
    controls.filter((c) => !reached.has(c.split(':')[0]!)),
    [],
    `${name}: every control is reachable with Tab`,
  );
  assert.deepEqual(
    stops.filter((s) => s.outlineStyle === 'none' || s.outlineWidth < 2),
    [],
    `${name}: every focused control shows an outline`,
  );
}

describe('grants console in Chromium', () => {
  test('sign in, see the grant, revoke it with the confirmation: the script can no longer refresh', async () => {
    const script = await scriptTokens('accept');
    const context = await newContext(browser, { srv, bypassCSP: true });
    const page = await context.newPage();

    await page.goto(`${srv.url}/`);
    await page.getByRole('link', { name: 'Grants' }).click();
    await page.waitForURL(`${srv.url}/grants`);
    await noViolations(page, 'console sign-in');
    await signIn(page, 'accept');
    assert.equal(await page.locator('h1').textContent(), 'Grants');
    await noViolations(page, 'console table (light)');
    await screenshot(page, 'grants');
    await everyControlHasVisibleFocus(page, 'console table');

    const row = page.locator(`#grant-${script.grantId}`);
    assert.equal(await row.count(), 1, 'the grant is listed');
    assert.match((await row.textContent()) ?? '', /ada\.admin@sandbox\.example/);
    assert.match((await row.textContent()) ?? '', /spark:people_read/);
    assert.match((await row.textContent()) ?? '', /Active/);
    assert.match(
      (await page.locator('main').textContent()) ?? '',
      /stays valid at Webex until it expires/,
    );

    await row.getByRole('link', { name: /^Revoke the grant of/ }).click();
    await page.waitForURL(`${srv.url}/grants/${script.grantId}/revoke`);
    await noViolations(page, 'revoke confirmation (light)');
    await page.getByRole('button', { name: 'Yes, revoke this grant' }).click();
    await page.waitForURL(`${srv.url}/grants?revoked=${script.grantId}`);
    assert.match(
      (await page.getByRole('status').textContent()) ?? '',
      /Revoked the grant of webex-token CLI/,
    );
    assert.match((await row.textContent()) ?? '', /Revoked by ada\.admin@sandbox\.example/);
    await noViolations(page, 'console after a revocation (light)');

    const refused = await refresh(srv.url, script.refreshToken);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'invalid_grant');

    // The cookie the page runs with is out of the script's reach.
    assert.equal(await page.evaluate(() => document.cookie), '');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${srv.url}/grants`);
    assert.equal(await page.getByRole('link', { name: 'Sign in with Webex' }).count(), 1);
    await context.close();
  });

  test('a non-admin sees only their approvals; a CONSOLE_ADMINS email sees the whole org', async () => {
    const uma = await scriptTokens('non-admin');
    const ada = await scriptTokens('accept');

    const umaContext = await newContext(browser, { srv, viewport: PHONE });
    const umaPage = await umaContext.newPage();
    await signIn(umaPage, 'non-admin');
    assert.equal(await umaPage.locator(`#grant-${uma.grantId}`).count(), 1);
    assert.equal(await umaPage.locator(`#grant-${ada.grantId}`).count(), 0);
    assert.match((await umaPage.locator('.signed-in').textContent()) ?? '', /grants you approved/);
    assert.equal(await horizontalOverflow(umaPage), 0, 'on a phone only the table scrolls');

    const adaContext = await newContext(browser, { srv });
    const adaPage = await adaContext.newPage();
    await signIn(adaPage, 'accept');
    assert.equal(await adaPage.locator(`#grant-${uma.grantId}`).count(), 1);
    assert.equal(await adaPage.locator(`#grant-${ada.grantId}`).count(), 1);
    await umaContext.close();
    await adaContext.close();
  });

  test('axe clean in the dark scheme', async () => {
    const script = await scriptTokens('accept');
    const context = await newContext(browser, { srv, colorScheme: 'dark', bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${srv.url}/grants`);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(15, 17, 20)', 'the dark scheme applies');
    await noViolations(page, 'console sign-in (dark)');
    await signIn(page, 'accept');
    await noViolations(page, 'console table (dark)');
    await page.goto(`${srv.url}/grants/${script.grantId}/revoke`);
    await noViolations(page, 'revoke confirmation (dark)');
    await page.getByRole('button', { name: 'Yes, revoke this grant' }).click();
    await page.waitForURL(`${srv.url}/grants?revoked=${script.grantId}`);
    await noViolations(page, 'console after a revocation (dark)');
    await context.close();
  });
});
