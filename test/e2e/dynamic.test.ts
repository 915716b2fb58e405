/**
 * Dynamic mode in a real Chromium: filter the catalog, pick scopes by clicking, use a preset,
 * sign in at the sandbox, land on the tokens page and copy the values; plus the sandbox's
 * Decline and non-admin answers and an expired tab, each explained.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { SANDBOX_ORG_UUID } from '../../src/sandbox/sandbox';
import { SCOPE_PRESETS } from '../../src/webex/scopes';
import { decideAtSandbox, launchBrowser, newContext } from '../helpers/browser';
import { startTestServer, type TestServer } from '../helpers/server';

let browser: Browser;
let srv: TestServer;

beforeAll(async () => {
  browser = await launchBrowser(); // first: a missing browser fails before anything else starts
  srv = await startTestServer();
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

const checkedScopes = (page: Page) =>
  page.$$eval('input[name="scope"]:checked', (els) =>
    els.map((e) => (e as HTMLInputElement).value),
  );
const visibleScopes = (page: Page) =>
  page.$$eval('li.scope', (els) =>
    els
      .filter((e) => (e as HTMLElement).offsetParent !== null)
      .map((e) => e.querySelector('input')!.value),
  );
const authorizedScopes = (s: TestServer) =>
  (s.sandbox.lastAuthorize?.get('scope') ?? '').split(' ').filter(Boolean);
const sorted = (a: string[]) => [...a].sort();

async function clickScope(page: Page, scope: string): Promise<void> {
  await page.locator(`li.scope:has(input[value="${scope}"]) label`).click();
}

describe('dynamic mode', () => {
  test('filter, click, preset, start, accept at the sandbox, copy the tokens', async () => {
    const context = await newContext(browser, { srv });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });

    await page.goto(`${srv.url}/`);
    await assert.doesNotReject(
      page.locator('#filter').waitFor({ state: 'visible' }),
      'the filter box appears with JS',
    );
    const start = page.locator('#start');
    assert.equal(await start.isDisabled(), true, 'Start is disabled until a scope is picked');
    assert.equal(
      await page.locator('#selection-status').textContent(),
      'Pick at least one scope to start.',
    );

    // Filter the catalog: only matching scopes remain, empty groups disappear.
    await page.locator('#filter').fill('workspace');
    const shown = await visibleScopes(page);
    assert.ok(shown.length >= 2, `some scopes match "workspace": ${shown.join(' ')}`);
    const texts = await page.$$eval('li.scope', (els) =>
      els
        .filter((e) => (e as HTMLElement).offsetParent !== null)
        .map((e) => e.getAttribute('data-text')!),
    );
    assert.ok(
      texts.every((t) => t.includes('workspace')),
      'every visible scope matches the filter',
    );
    assert.equal(
      await page.locator('fieldset.group[data-group="Compliance"]').isHidden(),
      true,
      'a group without matches is hidden',
    );
    assert.match((await page.locator('#filter-status').textContent()) ?? '', /scopes? match/);

    // Pick by clicking a visible row's label.
    await clickScope(page, 'spark-admin:workspaces_read');
    assert.deepEqual(await checkedScopes(page), ['spark-admin:workspaces_read']);
    assert.equal(await start.isEnabled(), true);
    assert.equal(await page.locator('#selection-status').textContent(), '1 scope selected');

    await page.locator('#filter').fill('no such scope anywhere');
    assert.equal(
      await page.locator('.no-match').isVisible(),
      true,
      'an empty filter result says so',
    );
    assert.deepEqual(await visibleScopes(page), []);
    await page.locator('#filter').fill('');
    assert.ok(
      (await visibleScopes(page)).length > 40,
      'clearing the filter shows the whole catalog again',
    );

    // Select all in one group, then clear it again.
    const compliance = page.locator('fieldset.group[data-group="Compliance"]');
    const complianceCount = await compliance.locator('input[name="scope"]').count();
    await compliance.locator('label.select-all').click();
    assert.equal(await compliance.locator('input[name="scope"]:checked').count(), complianceCount);
    assert.equal(
      await compliance.locator('.count').textContent(),
      `(${complianceCount} of ${complianceCount})`,
    );
    await compliance.locator('label.select-all').click();
    assert.equal(await compliance.locator('input[name="scope"]:checked').count(), 0);

    // A preset replaces the selection; then adjust it by clicking.
    const preset = SCOPE_PRESETS.find((p) => p.id === 'device-manager')!;
    const presetScopes = preset.scopes.filter((s) => srv.config.allowedScopes.includes(s));
    await page.locator('a.preset', { hasText: preset.label }).click();
    assert.equal(new URL(page.url()).pathname, '/', 'the preset link is handled in the page');
    assert.deepEqual(sorted(await checkedScopes(page)), sorted(presetScopes));
    assert.equal(
      await page.locator('a.preset[aria-current="true"]').textContent(),
      `${preset.label}${preset.description}`,
    );
    await clickScope(page, 'spark:xapi_commands'); // untick
    await clickScope(page, 'spark-admin:people_read'); // tick
    const expected = [
      ...presetScopes.filter((s) => s !== 'spark:xapi_commands'),
      'spark-admin:people_read',
    ];
    assert.deepEqual(sorted(await checkedScopes(page)), sorted(expected));
    assert.equal(
      await page.locator('#selection-status').textContent(),
      `${expected.length} scopes selected`,
    );

    // Start: exactly those scopes reach Webex (the sandbox).
    await start.click();
    await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
    assert.deepEqual(sorted(authorizedScopes(srv)), sorted(expected));
    assert.equal(srv.sandbox.lastAuthorize?.get('code_challenge_method'), 'S256');
    assert.deepEqual(
      sorted(await page.$$eval('ul.chips code', (els) => els.map((e) => e.textContent!))),
      sorted(expected),
      'the consent page lists the requested scopes',
    );

    await decideAtSandbox(page, srv, 'accept');
    assert.equal(
      new URL(page.url()).search,
      '?used=1',
      'the code and state are cleared from the address bar (used=1 makes a reload explain itself)',
    );
    assert.equal(await page.locator('h1').textContent(), 'Your tokens are ready');
    const access = await page.locator('#access-token').inputValue();
    const refresh = await page.locator('#refresh-token').inputValue();
    assert.match(access, /^SBX_AT_[A-Za-z0-9_-]+$/);
    assert.match(refresh, /^SBX_RT_[A-Za-z0-9_-]+$/);
    assert.deepEqual(
      sorted(await page.$$eval('ul.chips code', (els) => els.map((e) => e.textContent!))),
      sorted(expected),
    );
    assert.match(
      (await page.locator('.who').textContent()) ?? '',
      new RegExp(`Ada Admin[\\s\\S]*ada\\.admin@sandbox\\.example[\\s\\S]*${SANDBOX_ORG_UUID}`),
    );
    assert.match(
      (await page.locator('#access-token-life').textContent()) ?? '',
      /Valid for 13 days 23 hours, until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
    );

    // The access token really is the sandbox's: it reads people/me.
    const me = await fetch(`${srv.sandboxUrl}/v1/people/me`, {
      headers: { authorization: `Bearer ${access}` },
    });
    assert.equal(me.status, 200);

    // Copy buttons put the right value on the clipboard.
    const readClipboard = () => page.evaluate(() => navigator.clipboard.readText());
    for (const [id, value] of [
      ['access-token', access],
      ['refresh-token', refresh],
    ] as const) {
      const button = page.locator(`button[data-copy="${id}"]`);
      await button.click();
      await page.waitForFunction(
        (b) => b!.classList.contains('is-copied'),
        await button.elementHandle(),
      );
      assert.equal(await readClipboard(), value, `${id} copied`);
      assert.match((await button.textContent()) ?? '', /^Copied/);
      assert.match(
        (await page.locator('#copy-status').textContent()) ?? '',
        /copied to the clipboard/,
      );
    }
    await page.locator('button[data-copy="curl"]').click();
    await page.waitForFunction(() =>
      document.querySelector('button[data-copy="curl"]')!.classList.contains('is-copied'),
    );
    assert.equal(
      await readClipboard(),
      `curl -H "Authorization: Bearer ${access}" ${srv.sandboxUrl}/v1/people/me`,
    );

    assert.deepEqual(errors, [], 'no script errors or failed loads on the way');
    await context.close();
  });

  test('bookmarkable preset URL preselects its scopes', async () => {
    const context = await newContext(browser, { srv });
    const page = await context.newPage();
    await page.goto(`${srv.url}/?preset=compliance-officer`);
    const preset = SCOPE_PRESETS.find((p) => p.id === 'compliance-officer')!;
    assert.deepEqual(
      sorted(await checkedScopes(page)),
      sorted(preset.scopes.filter((s) => srv.config.allowedScopes.includes(s))),
    );
    assert.equal(await page.locator('#start').isEnabled(), true);
    await context.close();
  });

  test('Decline at the sandbox explains access_denied', async () => {
    const context = await newContext(browser, { srv });
    const page = await context.newPage();
    await page.goto(`${srv.url}/?preset=readonly-admin`);
    await page.locator('#start').click();
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${srv.url}/oauth`)),
      decideAtSandbox(page, srv, 'decline'),
    ]);
    assert.equal(response.status(), 403);
    assert.equal(await page.locator('h1').textContent(), 'Access denied');
    assert.match(
      (await page.locator('.error .message').textContent()) ?? '',
      /declined, or your Webex organization has a policy/,
    );
    assert.match(
      (await page.locator('.hint').textContent()) ?? '',
      /What to do next:.*start again/,
    );
    assert.equal((await page.locator('.error .code code').textContent())?.trim(), 'access_denied');
    await page.locator('a.button', { hasText: 'Back to the home page' }).click();
    assert.equal(await page.locator('h1').textContent(), 'Get a scoped Webex token');
    await context.close();
  });

  test('a non-admin at the sandbox gets the invalid_scope explanation', async () => {
    const context = await newContext(browser, { srv });
    const page = await context.newPage();
    await page.goto(`${srv.url}/`);
    await clickScope(page, 'spark-admin:people_read');
    await page.locator('#start').click();
    await decideAtSandbox(page, srv, 'non-admin');
    assert.equal(await page.locator('h1').textContent(), 'Scopes refused by Webex');
    assert.match(
      (await page.locator('.error .message').textContent()) ?? '',
      /not entitled to them \(a standard user asking for admin.*not enabled on this service's Webex integration/,
    );
    assert.match((await page.locator('.hint').textContent()) ?? '', /full administrator/);
    assert.equal((await page.locator('.error .code code').textContent())?.trim(), 'invalid_scope');
    await context.close();
  });

  test('an expired tab is explained, and Webex is not asked for tokens', async () => {
    const quick = await startTestServer({ env: { FLOW_TTL_SECONDS: '1' } });
    try {
      const context = await newContext(browser, { srv: quick });
      const page = await context.newPage();
      await page.goto(`${quick.url}/`);
      await clickScope(page, 'spark-admin:people_read');
      await page.locator('#start').click();
      await page.waitForURL((u) => u.href.startsWith(`${quick.sandboxUrl}/v1/authorize`));
      await page.waitForTimeout(1500); // the admin wanders off; the sign-in expires
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().startsWith(`${quick.url}/oauth`)),
        decideAtSandbox(page, quick, 'accept'),
      ]);
      assert.equal(response.status(), 400);
      assert.equal(await page.locator('h1').textContent(), 'This sign-in cannot be finished');
      assert.match((await page.locator('.error .message').textContent()) ?? '', /expired/);
      assert.match(
        (await page.locator('.hint').textContent()) ?? '',
        /Start again from the home page/,
      );
      assert.equal(
        (await page.locator('.error .code code').textContent())?.trim(),
        'state_expired',
      );
      assert.equal(quick.sandbox.calls.token, 0, 'no code exchange for an expired state');
      await context.close();
    } finally {
      await quick.close();
    }
  });
});
