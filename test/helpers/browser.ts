/**
 * A real headless Chromium for the e2e tests (Debian's /usr/bin/chromium driven by
 * playwright-core; nothing downloads a browser), plus axe-core and screenshot helpers.
 *
 * A missing browser is a failure with a clear message, never a skip: the browser tests are
 * part of the contract.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core';
import type { TestServer } from './server';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ROOT = path.resolve(__dirname, '..', '..');
export const SCREENSHOT_DIR = path.join(ROOT, 'docs', 'screenshots');

export const PHONE = { width: 375, height: 740 };
export const DESKTOP = { width: 1280, height: 860 };

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. The browser tests need Debian's chromium: ` +
        'run `apt-get install -y chromium` (.ci/run does this), or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  try {
    return await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    });
  } catch (err) {
    throw new Error(`Chromium at ${CHROMIUM_PATH} failed to start: ${(err as Error).message}`);
  }
}

export interface ContextOptions extends BrowserContextOptions {
  /** Serve the app's /static/ files on the sandbox origin too (the test sandbox has none). */
  srv?: TestServer;
}

/**
 * A fresh context (own cookies). With `srv`, the separate sandbox upstream gets the app's
 * stylesheet and script, as it has when mounted in the same process by `npm run demo`.
 */
export async function newContext(
  browser: Browser,
  opts: ContextOptions = {},
): Promise<BrowserContext> {
  const { srv, ...options } = opts;
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', ...options });
  // Generous for a loaded machine (two suites on two cores): a page that never comes still
  // fails well inside the e2e project's 180 s per test.
  context.setDefaultTimeout(30_000);
  context.setDefaultNavigationTimeout(30_000);
  if (srv) {
    await context.route(`${srv.sandboxUrl}/static/**`, async (route) => {
      const url = new URL(route.request().url());
      const res = await route.fetch({ url: `${srv.url}${url.pathname}` });
      await route.fulfill({ response: res });
    });
  }
  return context;
}

/** Clicks through the sandbox consent page with the given button; resolves after the redirect back. */
export async function decideAtSandbox(
  page: Page,
  srv: TestServer,
  decision: 'accept' | 'decline' | 'non-admin',
): Promise<void> {
  await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(`${srv.url}/`)),
    page.locator(`form.decisions button[value="${decision}"]`).click(),
  ]);
}

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs axe-core inside the page and returns the serious and critical violations. The
 * context must have been created with `bypassCSP: true`: the pages forbid inline scripts,
 * which is exactly what injecting axe is.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  const loaded = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe);
  if (loaded === 'undefined') await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: unknown[] }> };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: {
        type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'],
      },
    });
    return result.violations;
  });
  return (violations as AxeViolation[]).filter(
    (v) => v.impact === 'serious' || v.impact === 'critical',
  );
}

export function formatViolations(violations: AxeViolation[]): string {
  return violations
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `  ${n.target.join(' ')}: ${n.failureSummary ?? ''}`).join('\n')}`,
    )
    .join('\n');
}

/** Horizontal overflow of the document, in CSS pixels (0 when it fits the viewport). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.scrollingElement!.scrollWidth - window.innerWidth);
}

/** Writes docs/screenshots/<name>.png (the full page unless told otherwise). */
export async function screenshot(
  page: Page,
  name: string,
  opts: { fullPage?: boolean } = {},
): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({
    path: file,
    fullPage: opts.fullPage ?? true,
    animations: 'disabled',
    caret: 'hide',
  });
  return file;
}

export interface FocusStop {
  /** A readable description of the element: tag, id or name, text. */
  what: string;
  outlineStyle: string;
  outlineWidth: number;
  /** The element lies inside the viewport and nothing (a sticky bar) covers its centre. */
  inViewport: boolean;
}

/** Every control a keyboard user should be able to reach, visible and enabled, in DOM order. */
export async function keyboardControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const sel =
      'a[href], button, input:not([type="hidden"]), textarea, select, [tabindex]:not([tabindex="-1"])';
    const out: string[] = [];
    document.querySelectorAll<HTMLElement>(sel).forEach((el, i) => {
      const disabled = (el as HTMLButtonElement).disabled === true;
      const rendered =
        el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
      // The skip link sits off screen until focused, on purpose.
      if (disabled || (!rendered && !el.classList.contains('skip'))) return;
      el.dataset.e2eStop = String(i);
      const text = (el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 40);
      const name = el.getAttribute('name') ?? '';
      const id = el.id ? `#${el.id}` : '';
      const value = el.getAttribute('value') ?? '';
      out.push(
        `${i}:${el.tagName.toLowerCase()}${id}${name ? `[${name}=${value.slice(0, 40)}]` : ''} ${text}`.trim(),
      );
    });
    return out;
  });
}

/**
 * Presses Tab from the top of the page until focus comes back round (or leaves the page),
 * recording each element reached and its focus outline. Call keyboardControls first: it
 * tags the elements this walk reports.
 */
export async function tabThrough(page: Page, max: number): Promise<FocusStop[]> {
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    window.scrollTo(0, 0);
  });
  const stops: FocusStop[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      const onTop = document.elementFromPoint(x, y);
      const covered =
        !onTop ||
        !(
          el.contains(onTop) ||
          onTop.contains(el) ||
          (el.id !== '' && onTop.closest(`label[for="${el.id}"]`) !== null)
        );
      const inViewport =
        x >= 0 && y >= 0 && x <= window.innerWidth && y <= window.innerHeight && !covered;
      return {
        key: el.dataset.e2eStop ?? `untagged ${el.tagName}`,
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth) || 0,
        inViewport,
      };
    });
    if (!stop || seen.has(stop.key)) break;
    seen.add(stop.key);
    stops.push({
      what: stop.key,
      outlineStyle: stop.outlineStyle,
      outlineWidth: stop.outlineWidth,
      inViewport: stop.inViewport,
    });
  }
  return stops;
}

/** Form fields without an accessible label (label element, aria-label or aria-labelledby). */
export async function unlabelledFields(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    document
      .querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>(
        'input:not([type="hidden"]), textarea, select',
      )
      .forEach((el) => {
        const byLabel = Array.from(el.labels ?? []).some(
          (l) => (l.textContent ?? '').trim().length > 0,
        );
        const byAria = (el.getAttribute('aria-label') ?? '').trim().length > 0;
        const ids = (el.getAttribute('aria-labelledby') ?? '').split(/\s+/).filter(Boolean);
        const byRef =
          ids.length > 0 &&
          ids.every((id) => (document.getElementById(id)?.textContent ?? '').trim().length > 0);
        if (!byLabel && !byAria && !byRef) bad.push(el.outerHTML.slice(0, 120));
      });
    return bad;
  });
}
