/**
 * Layout from a 375 px phone to a desktop: no page scrolls sideways, long token values wrap
 * inside their box, touch targets are big enough; and the screenshots in docs/screenshots/
 * (shown in README.md) are taken here, from the real pages.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { requestHandoff } from '../helpers/admin';
import {
  DESKTOP,
  PHONE,
  decideAtSandbox,
  horizontalOverflow,
  launchBrowser,
  newContext,
  screenshot,
} from '../helpers/browser';
import { startTestServer, type TestServer } from '../helpers/server';

let browser: Browser;
let srv: TestServer;
/** Issues tokens of about 200 characters without a break opportunity. */
let longTokens: TestServer;

beforeAll(async () => {
  browser = await launchBrowser(); // first: a missing browser fails before anything else starts
  [srv, longTokens] = await Promise.all([
    startTestServer(),
    startTestServer({ sandboxOptions: { tokenPrefix: `SBXLONG${'a1B2c3D4e5F6g7H8'.repeat(10)}` } }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
  await longTokens?.close();
});

async function toSandbox(page: Page, s: TestServer, query: string): Promise<void> {
  await page.goto(`${s.url}/start?${query}`);
  await page.waitForURL((u) => u.href.startsWith(`${s.sandboxUrl}/v1/authorize`));
}

async function approvalPage(page: Page, s: TestServer, scope: string): Promise<string> {
  const auth = await requestHandoff(s.url, { client_id: 'cli', scope });
  await page.goto(`${s.url}/device`);
  await page.locator('#user_code').fill(String(auth.json.user_code));
  await page.getByRole('button', { name: 'Continue' }).click();
  return String(auth.json.user_code);
}

describe('layout', () => {
  for (const [label, viewport] of [
    ['375 px phone', PHONE],
    ['desktop', DESKTOP],
  ] as const) {
    test(`${label}: nothing scrolls sideways, long tokens wrap inside their box`, async () => {
      const context = await newContext(browser, { srv: longTokens, viewport });
      const page = await context.newPage();
      const overflow: Record<string, number> = {};
      const measure = async (name: string) => {
        // Measured once the stylesheet has applied: before 'load' a loaded machine could show
        // the page half-styled, a few pixels wider than it ends up.
        await page.waitForLoadState('load');
        overflow[name] = await horizontalOverflow(page);
      };

      await page.goto(`${longTokens.url}/`);
      await measure('home');
      await page.locator('#filter').fill('compliance');
      await measure('home filtered');
      await page.goto(`${longTokens.url}/device`);
      await measure('device code entry');
      await approvalPage(
        page,
        longTokens,
        'spark-admin:people_read spark-admin:resource_group_memberships_read',
      );
      await measure('device approval');
      await page.goto(
        `${longTokens.url}/start?scope=${encodeURIComponent(`spark-admin:${'x'.repeat(90)} bogus`)}`,
      );
      await measure('scope error with a long scope name');
      await toSandbox(
        page,
        longTokens,
        'scope=spark-admin:people_read&scope=spark-admin:resource_group_memberships_read',
      );
      await measure('sandbox consent');
      await decideAtSandbox(page, longTokens, 'accept');
      await measure('tokens');
      assert.deepEqual(
        Object.entries(overflow).filter(([, px]) => px > 0),
        [],
        'no page is wider than the viewport',
      );

      const access = await page.locator('#access-token').inputValue();
      assert.ok(access.length > 180, 'the test token really is long');
      const boxes = await page.$$eval('.token-value', (els) =>
        els.map((el) => {
          const t = el as HTMLTextAreaElement;
          const r = t.getBoundingClientRect();
          const card = t.closest('section')!.getBoundingClientRect();
          return {
            id: t.id,
            wraps: t.scrollWidth <= t.clientWidth,
            insideCard: r.left >= card.left && r.right <= card.right,
            insideViewport: r.right <= window.innerWidth,
            overflowY: getComputedStyle(t).overflowY,
          };
        }),
      );
      for (const b of boxes) {
        assert.ok(b.wraps, `${b.id}: the value wraps instead of widening the box`);
        assert.ok(
          b.insideCard && b.insideViewport,
          `${b.id}: the box stays inside its card and the screen`,
        );
        assert.notEqual(
          b.overflowY,
          'hidden',
          `${b.id}: a value taller than the box can be scrolled`,
        );
      }

      if (viewport === PHONE) {
        const small = await page.$$eval('button:not([hidden]), a.button, a.preset', (els) =>
          els
            .filter((e) => e.getBoundingClientRect().height < 44)
            .map((e) => e.outerHTML.slice(0, 80)),
        );
        assert.deepEqual(small, [], 'touch targets are at least 44 px tall');
      }
      await context.close();
    });
  }
});

describe('screenshots for README.md', () => {
  test('home, tokens, approval, error, sandbox, dark and phone', async () => {
    const light = await newContext(browser, { srv });
    const page = await light.newPage();

    await page.goto(`${srv.url}/?preset=device-manager`);
    await screenshot(page, 'home', { fullPage: false });

    await page.locator('#start').click();
    await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
    await screenshot(page, 'sandbox');
    await decideAtSandbox(page, srv, 'accept');
    await page.locator('button[data-copy="access-token"]').waitFor();
    await screenshot(page, 'tokens');

    await approvalPage(
      page,
      srv,
      'spark-admin:people_read spark-admin:devices_read spark:xapi_statuses',
    );
    await screenshot(page, 'approve');

    await toSandbox(page, srv, 'scope=spark-admin:people_read');
    await decideAtSandbox(page, srv, 'non-admin');
    await screenshot(page, 'error', { fullPage: false });
    await light.close();

    const dark = await newContext(browser, { srv, colorScheme: 'dark' });
    const darkPage = await dark.newPage();
    await darkPage.goto(`${srv.url}/?preset=readonly-admin`);
    await screenshot(darkPage, 'home-dark', { fullPage: false });
    await dark.close();

    const phone = await newContext(browser, {
      srv,
      viewport: { width: 375, height: 812 },
      deviceScaleFactor: 2,
    });
    const phonePage = await phone.newPage();
    await approvalPage(phonePage, srv, 'spark-admin:people_read spark-admin:licenses_read');
    await screenshot(phonePage, 'approve-phone');
    await phone.close();
  });
});
