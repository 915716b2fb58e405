/** Pages: render() of the home and tokens pages in this process, and GET / over HTTP. */
import crypto from 'node:crypto';
import { lifetime } from '../src/views/format';
import { viewRenderer } from '../src/views/views';
import type { WebexTokens } from '../src/webex/client';
import { groupScopes, presetsFor } from '../src/webex/scopes';
import { cannon, type CannonResult } from './load';
import { fmt, median } from './lib';
import type { Ctx, ServiceChild } from './processes';
import type { Row, SectionReport } from './report';
import { DURATION, REPS, log } from './settings';

export interface PagesResult {
  homeRenderPerSec: number[];
  tokensRenderPerSec: number[];
  homeHttp: CannonResult[];
  homeBytes: number;
  tokensBytes: number;
}

async function renderRate(fn: () => Promise<string>, ms = 1000): Promise<number> {
  for (let i = 0; i < 50; i++) await fn(); // warm (and compile, once)
  let n = 0;
  const started = performance.now();
  let now = started;
  while (now - started < ms) {
    for (let i = 0; i < 20; i++) await fn();
    n += 20;
    now = performance.now();
  }
  return (n * 1000) / (now - started);
}

export async function pagesSection(ctx: Ctx, svc: ServiceChild): Promise<PagesResult> {
  // The same locals the routes build (src/routes/pages.ts and src/routes/oauth.ts).
  // koa-views, as ctx.render in the app, with the production template cache
  const render = viewRenderer({ sandbox: false, cache: true });
  const offered = ctx.deps.config.allowedScopes;
  const groups = groupScopes(offered);
  const presets = presetsFor(offered);
  const home = () => render('home', { groups, presets, selected: [], selectedPreset: null });
  const now = Date.now();
  const tokens: WebexTokens = {
    access_token: `SBX_AT_${crypto.randomBytes(48).toString('base64url')}`,
    refresh_token: `SBX_RT_${crypto.randomBytes(48).toString('base64url')}`,
    token_type: 'Bearer',
    expires_in: 1209599,
    refresh_token_expires_in: 7775999,
  };
  const tokensPage = () =>
    render('tokens', {
      pageTitle: 'Your tokens',
      tokens,
      person: {
        displayName: 'Ada Admin',
        emails: ['ada.admin@sandbox.example'],
        orgId: 'sandbox-org-0001',
      },
      scopes: ['spark-admin:people_read', 'spark:people_read', 'spark-admin:licenses_read'],
      access: lifetime(tokens.expires_in, now),
      refresh: lifetime(tokens.refresh_token_expires_in, now),
      curl: `curl -H "Authorization: Bearer ${tokens.access_token}" https://webexapis.com/v1/people/me`,
    });
  const result: PagesResult = {
    homeRenderPerSec: [],
    tokensRenderPerSec: [],
    homeHttp: [],
    homeBytes: Buffer.byteLength(await home()),
    tokensBytes: Buffer.byteLength(await tokensPage()),
  };
  await cannon({ url: svc.url, connections: 100, duration: 2, path: '/' });
  for (let rep = 1; rep <= REPS; rep++) {
    result.homeRenderPerSec.push(await renderRate(home));
    result.tokensRenderPerSec.push(await renderRate(tokensPage));
    result.homeHttp.push(
      await cannon({ url: svc.url, connections: 100, duration: Math.min(DURATION, 4), path: '/' }),
    );
    log(
      `  rep ${rep}: render() home ${fmt(result.homeRenderPerSec.at(-1)!)}/s, tokens ${fmt(result.tokensRenderPerSec.at(-1)!)}/s; GET / over HTTP ${fmt(result.homeHttp.at(-1)!.rps)} req/s p99 ${result.homeHttp.at(-1)!.p99} ms`,
    );
  }
  return result;
}

export function pagesReport(p: PagesResult): SectionReport {
  const rows: Row[] = [];
  const details: string[] = [];
  rows.push({
    what: 'Home page render() (compiled once)',
    target: '—',
    measured: `${fmt(median(p.homeRenderPerSec))} renders/s (${fmt(1e6 / median(p.homeRenderPerSec), 0)} µs, ${fmt(p.homeBytes / 1024, 1)} KiB)`,
    pass: null,
  });
  rows.push({
    what: 'Tokens page render()',
    target: '—',
    measured: `${fmt(median(p.tokensRenderPerSec))} renders/s (${fmt(1e6 / median(p.tokensRenderPerSec), 0)} µs, ${fmt(p.tokensBytes / 1024, 1)} KiB)`,
    pass: null,
  });
  rows.push({
    what: 'Home page over HTTP, 100 connections',
    target: '—',
    measured: `${fmt(median(p.homeHttp.map((h) => h.rps)))} req/s, p50 ${fmt(median(p.homeHttp.map((h) => h.p50)), 1)} ms, p99 ${fmt(median(p.homeHttp.map((h) => h.p99)), 1)} ms`,
    pass: null,
  });
  return { rows, details };
}
