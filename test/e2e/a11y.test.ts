/**
 * Accessibility in a real Chromium: axe-core (WCAG 2.x A/AA and best practices, colour
 * contrast included) reports no serious or critical violation on any page, in the light and
 * the dark scheme; keyboard-only use reaches every control with a visible focus ring; every
 * field has a label.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { requestHandoff } from '../helpers/admin';
import {
  axeViolations,
  decideAtSandbox,
  formatViolations,
  keyboardControls,
  launchBrowser,
  newContext,
  tabThrough,
  unlabelledFields,
  type AxeViolation,
} from '../helpers/browser';
import { startTestServer, type TestServer } from '../helpers/server';

let browser: Browser;
let srv: TestServer;
let fixed: TestServer;

beforeAll(async () => {
  browser = await launchBrowser(); // first: a missing browser fails before anything else starts
  [srv, fixed] = await Promise.all([
    startTestServer(),
    startTestServer({
      env: { SCOPES_MODE: 'static', SCOPES: 'spark-admin:people_read spark:kms' },
    }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
  await fixed?.close();
});

async function enterCode(page: Page, code: string): Promise<void> {
  await page.goto(`${srv.url}/device`);
  await page.locator('#user_code').fill(code);
  // Wait for the next page to be loaded (its stylesheet applied), not just for the click: a Tab
  // walk on a page still loading sees the browser's default focus ring.
  const navigated = page.waitForEvent('framenavigated', (frame) => frame === page.mainFrame());
  await page.getByRole('button', { name: 'Continue' }).click();
  await navigated;
  await page.waitForLoadState('load');
}

describe('axe-core finds no serious or critical violation', () => {
  for (const scheme of ['light', 'dark'] as const) {
    test(`every page, ${scheme} scheme`, async () => {
      const context = await newContext(browser, { srv, colorScheme: scheme, bypassCSP: true });
      const page = await context.newPage();
      const found: { name: string; violations: AxeViolation[] }[] = [];
      const check = async (name: string) => {
        found.push({ name, violations: await axeViolations(page) });
        assert.deepEqual(await unlabelledFields(page), [], `${name}: every field has a label`);
      };

      await page.goto(`${srv.url}/`);
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(
        bg,
        scheme === 'dark' ? 'rgb(15, 17, 20)' : 'rgb(246, 247, 249)',
        'the scheme follows prefers-color-scheme',
      );
      await check('home');
      await page.locator('a.preset').first().click();
      await page.locator('#filter').fill('read');
      await check('home with a preset and a filter');
      await page.goto(`${srv.url}/?preset=nope`);
      await check('home with an unknown preset');
      await page.goto(`${fixed.url}/`);
      await check('static home');
      await page.goto(`${srv.url}/start?scope=bogus%20spark:all`);
      await check('scope error (400)');
      await page.goto(`${srv.url}/nope`);
      await check('not found (404)');

      await page.goto(`${srv.url}/?preset=readonly-admin`);
      await page.locator('#start').click();
      await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
      await check('sandbox consent');
      await decideAtSandbox(page, srv, 'accept');
      await check('tokens');
      await page.locator('button[data-copy="access-token"]').focus();
      await check('tokens with a focused copy button');

      await page.goto(`${srv.url}/start?scope=spark-admin:people_read`);
      await decideAtSandbox(page, srv, 'decline');
      await check('access_denied error');

      await page.goto(`${srv.url}/device`);
      await check('device code entry');
      await enterCode(page, 'zzzz-zzzz');
      await check('device code entry with a problem');
      const approved = await requestHandoff(srv.url);
      await enterCode(page, String(approved.json.user_code));
      await check('device approval');
      await page.getByRole('button', { name: 'Approve and sign in with Webex' }).click();
      await decideAtSandbox(page, srv, 'accept');
      await check('device done (delivered)');
      const denied = await requestHandoff(srv.url);
      await enterCode(page, String(denied.json.user_code));
      await page.getByRole('button', { name: 'Deny' }).click();
      await check('device done (denied)');

      const bad = found.filter((f) => f.violations.length > 0);
      assert.equal(found.length, 15);
      assert.deepEqual(
        bad.map((b) => b.name),
        [],
        bad.map((b) => `${b.name}:\n${formatViolations(b.violations)}`).join('\n\n'),
      );
      await context.close();
    });
  }
});

describe('keyboard only', () => {
  async function everyControlHasVisibleFocus(page: Page, name: string): Promise<void> {
    const controls = await keyboardControls(page);
    assert.ok(controls.length > 0, `${name}: has controls`);
    const stops = await tabThrough(page, controls.length + 5);
    if (process.env.E2E_DEBUG) console.log(name, controls.length, stops.length, stops.slice(0, 3));
    const reached = new Set(stops.map((s) => s.what));
    const missed = controls.filter((c) => !reached.has(c.split(':')[0]!));
    assert.deepEqual(missed, [], `${name}: every control is reachable with Tab`);
    assert.equal(stops[0]?.what, controls[0]?.split(':')[0], `${name}: the skip link comes first`);
    const invisible = stops.filter(
      (s) => s.outlineStyle === 'none' || s.outlineWidth < 2 || !s.inViewport,
    );
    assert.deepEqual(
      invisible,
      [],
      `${name}: every focused control shows a focus ring, scrolled into view`,
    );
  }

  test('every control on every page is reachable with Tab and shows its focus', async () => {
    const context = await newContext(browser, { srv });
    const page = await context.newPage();
    // With a preset picked, Start is enabled, so every control of the page is in play.
    await page.goto(`${srv.url}/?preset=device-manager`);
    await everyControlHasVisibleFocus(page, 'home');
    await page.goto(`${fixed.url}/`);
    await everyControlHasVisibleFocus(page, 'static home');
    await page.goto(`${srv.url}/device`);
    await everyControlHasVisibleFocus(page, 'device code entry');
    const auth = await requestHandoff(srv.url);
    await enterCode(page, String(auth.json.user_code));
    await everyControlHasVisibleFocus(page, 'device approval');
    await page.goto(`${srv.url}/start?scope=spark-admin:people_read`);
    await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
    await everyControlHasVisibleFocus(page, 'sandbox consent');
    await decideAtSandbox(page, srv, 'accept');
    await everyControlHasVisibleFocus(page, 'tokens');
    await page.goto(`${srv.url}/start?scope=bogus`);
    await everyControlHasVisibleFocus(page, 'error');
    await context.close();
  });

  test('the whole sign-in can be done with the keyboard alone', async () => {
    const context = await newContext(browser, { srv });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url });
    const page = await context.newPage();
    await page.goto(`${srv.url}/`);
    const active = () =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}|${el.getAttribute('value') ?? ''}|${(el.textContent ?? '').trim()}`;
      });
    const tabTo = async (pattern: RegExp, max = 200) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        if (pattern.test(await active())) return;
      }
      throw new Error(`never reached ${pattern} with Tab`);
    };

    await page.keyboard.press('Tab');
    assert.match(await active(), /^a\|\|Skip to content$/);
    await tabTo(/^input#filter\|/);
    await page.keyboard.type('people');
    await tabTo(/\|spark-admin:people_read\|/);
    await page.keyboard.press('Space');
    assert.equal(await page.locator('input[value="spark-admin:people_read"]').isChecked(), true);
    await tabTo(/^button#start\|/);
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
    assert.equal(srv.sandbox.lastAuthorize?.get('scope'), 'spark-admin:people_read');

    await tabTo(/\|accept\|/);
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(`${srv.url}/`)),
      page.keyboard.press('Enter'),
    ]);
    assert.equal(await page.locator('h1').textContent(), 'Your tokens are ready');
    await tabTo(/^button\|\|Copy access token$/);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() =>
      document.querySelector('button[data-copy="access-token"]')!.classList.contains('is-copied'),
    );
    assert.equal(
      await page.evaluate(() => navigator.clipboard.readText()),
      await page.locator('#access-token').inputValue(),
    );
    await context.close();
  });
});
