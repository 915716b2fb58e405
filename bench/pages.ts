/**
 * Pages: render() of the home and tokens pages in this process; GET / over HTTP with a
 * browser's Accept-Encoding, next to the seed app's home page (bench/seed-app) in the same run;
 * and the bytes of a first view (HTML + CSS + JS as sent) of both.
 */
import crypto from 'node:crypto';
import { lifetime } from '../src/views/format';
import { viewRenderer } from '../src/views/views';
import type { WebexTokens } from '../src/webex/client';
import { groupScopes, presetsFor } from '../src/webex/scopes';
import { cannon, type CannonResult } from './load';
import { fmt, median } from './lib';
import { BROWSER_ACCEPT_ENCODING, SEED_HOME, firstView, startSeed, type FirstView } from './seed';
import type { Ctx, ServiceChild } from './processes';
import type { Row, SectionReport } from './report';
import { DURATION, REPS, log } from './settings';

export interface PagesResult {
  homeRenderPerSec: number[];
  tokensRenderPerSec: number[];
  homeHttp: CannonResult[];
  seedHttp: CannonResult[];
  firstView: FirstView;
  seedFirstView: FirstView;
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
  const cli = {
    command: `curl -fsSLo webex-token.js "${svc.url}/cli/webex-token.js" && node webex-token.js login --server ${svc.url} --format env`,
    sha256: crypto.hash('sha256', 'cli', 'hex'),
  };
  const home = () =>
    render('home', {
      groups,
      presets,
      selected: [],
      selectedPreset: null,
      cli,
      identityScope: ctx.deps.config.identityScope,
    });
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
  const seed = await startSeed();
  try {
    const browserLike = { 'accept-encoding': BROWSER_ACCEPT_ENCODING, accept: 'text/html' };
    const homeLoad = (url: string, path: string, duration: number) =>
      cannon({ url, connections: 100, duration, path, headers: browserLike });
    const result: PagesResult = {
      homeRenderPerSec: [],
      tokensRenderPerSec: [],
      homeHttp: [],
      seedHttp: [],
      firstView: await firstView(svc.url, '/'),
      seedFirstView: await firstView(seed.url, '/'),
      homeBytes: Buffer.byteLength(await home()),
      tokensBytes: Buffer.byteLength(await tokensPage()),
    };
    await homeLoad(svc.url, '/', 2);
    await homeLoad(seed.url, SEED_HOME, 2);
    for (let rep = 1; rep <= REPS; rep++) {
      result.homeRenderPerSec.push(await renderRate(home));
      result.tokensRenderPerSec.push(await renderRate(tokensPage));
      const seconds = Math.min(DURATION, 4);
      result.seedHttp.push(await homeLoad(seed.url, SEED_HOME, seconds));
      result.homeHttp.push(await homeLoad(svc.url, '/', seconds));
      log(
        `  rep ${rep}: render() home ${fmt(result.homeRenderPerSec.at(-1)!)}/s, tokens ${fmt(result.tokensRenderPerSec.at(-1)!)}/s; home over HTTP ${fmt(result.homeHttp.at(-1)!.rps)} req/s p99 ${result.homeHttp.at(-1)!.p99} ms, seed ${fmt(result.seedHttp.at(-1)!.rps)} req/s`,
      );
    }
    return result;
  } finally {
    await seed.child.stop();
  }
}

function viewBytes(v: FirstView): string {
  return v.parts.map((p) => `${p.path} ${fmt(p.bytes)} B ${p.encoding}`).join(', ');
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
  const ours = median(p.homeHttp.map((h) => h.rps));
  const seed = median(p.seedHttp.map((h) => h.rps));
  rows.push({
    what: `Home page over HTTP, 100 connections, browser Accept-Encoding, vs the seed app's (${SEED_HOME})`,
    target: '≥ 2 × seed',
    measured:
      `${fmt(ours / seed, 2)} × (${fmt(ours)} vs ${fmt(seed)} req/s; p50 ${fmt(median(p.homeHttp.map((h) => h.p50)), 1)} ms,` +
      ` p99 ${fmt(median(p.homeHttp.map((h) => h.p99)), 1)} ms vs seed p99 ${fmt(median(p.seedHttp.map((h) => h.p99)), 1)} ms)`,
    pass: ours >= 2 * seed,
  });
  const bytes = p.firstView.bodyBytes / p.seedFirstView.bodyBytes;
  rows.push({
    what: 'First view on the wire (HTML + CSS + JS bodies as sent), vs the seed app',
    target: '≤ 1.5 × seed',
    measured:
      `${fmt(bytes, 2)} × (${fmt(p.firstView.bodyBytes)} vs ${fmt(p.seedFirstView.bodyBytes)} B;` +
      ` with headers ${fmt(p.firstView.bodyBytes + p.firstView.headerBytes)} vs ${fmt(p.seedFirstView.bodyBytes + p.seedFirstView.headerBytes)} B)`,
    pass: bytes <= 1.5,
  });
  details.push(
    '### First view, response by response',
    '',
    `Ours: ${viewBytes(p.firstView)}.`,
    '',
    `Seed: ${viewBytes(p.seedFirstView)}.`,
    '',
  );
  return { rows, details };
}
