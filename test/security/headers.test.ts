/**
 * Security headers on every response: an exact CSP (self only, forms also to the Webex
 * authorize origin, no framing), no referrer, no sniffing, HSTS only over HTTPS, and
 * Cache-Control: no-store on every page with per-request data and on everything carrying a
 * token, code or state (pages fixed by the configuration are revalidated instead).
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { decideAtSandbox } from '../helpers/admin';
import { CookieBrowser } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';
import { DEVICE_GRANT, approvalFields, parseCsp, postForm, send } from './support';
import { pollIntervalPassed } from '../helpers/time';

let srv: TestServer;
let https: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ env: { DEVICE_POLL_INTERVAL_SECONDS: '1' } });
  https = await startTestServer({ env: { PUBLIC_URL: 'https://tokens.example.com' } });
});
afterAll(async () => {
  await srv?.close();
  await https?.close();
});

function expectedCsp(authorizeOrigin: string): Map<string, string[]> {
  return new Map([
    ['default-src', ["'self'"]],
    ['script-src', ["'self'"]],
    ['style-src', ["'self'"]],
    ['img-src', ["'self'", 'data:']],
    ['font-src', ["'self'"]],
    ['connect-src', ["'self'"]],
    ['form-action', ["'self'", authorizeOrigin]],
    ['frame-ancestors', ["'none'"]],
    ['base-uri', ["'none'"]],
    ['object-src', ["'none'"]],
  ]);
}

/** One response of every kind the service gives: pages, redirects, errors, JSON, static. */
async function sampleResponses(s: TestServer) {
  const browser = new CookieBrowser();
  const out: { name: string; status: number; headers: Headers; body: string }[] = [];
  const add = (name: string, r: { status: number; headers: Headers; body: string }) =>
    out.push({ name, ...r });
  add('home', await send(`${s.url}/`, { headers: { accept: 'text/html' } }));
  add('home static preset', await send(`${s.url}/?preset=nope`));
  add('device page', await browser.get(`${s.url}/device`));
  add('start redirect', await send(`${s.url}/start?scope=spark-admin:people_read`));
  add(
    'start bad scope',
    await send(`${s.url}/start?scope=spark:all`, { headers: { accept: 'text/html' } }),
  );
  add('oauth no state', await send(`${s.url}/oauth`, { headers: { accept: 'text/html' } }));
  add(
    'oauth unknown state',
    await send(`${s.url}/oauth?state=abc&code=def`, { headers: { accept: 'text/html' } }),
  );
  add('404 page', await send(`${s.url}/nope`, { headers: { accept: 'text/html' } }));
  add('metadata', await send(`${s.url}/.well-known/oauth-authorization-server`));
  add(
    'device authorization',
    await postForm(`${s.url}/oauth2/device_authorization`, {
      client_id: 'cli',
      scope: 'spark-admin:people_read',
    }),
  );
  add(
    'token error',
    await postForm(`${s.url}/oauth2/token`, {
      grant_type: DEVICE_GRANT,
      client_id: 'cli',
      device_code: 'x',
    }),
  );
  add('healthz', await send(`${s.url}/healthz`));
  add('readyz', await send(`${s.url}/readyz`));
  add('metrics', await send(`${s.url}/metrics`));
  add('static', await send(`${s.url}/static/app.css`));
  add(
    'csrf refused',
    await postForm(`${s.url}/device/approve`, { csrf: 'x', handoff: 'y' }, { accept: 'text/html' }),
  );
  return out;
}

describe('security headers', () => {
  test('every response carries the exact CSP, no-referrer, nosniff and frame denial', async () => {
    const authorizeOrigin = new URL(srv.config.webex.authorizeUrl).origin;
    const responses = await sampleResponses(srv);
    for (const r of responses) {
      const csp = parseCsp(r.headers.get('content-security-policy'));
      assert.deepEqual(
        csp,
        expectedCsp(authorizeOrigin),
        `${r.name}: CSP ${r.headers.get('content-security-policy')}`,
      );
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer', `${r.name}: Referrer-Policy`);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${r.name}: nosniff`);
      assert.equal(r.headers.get('x-frame-options'), 'DENY', `${r.name}: X-Frame-Options`);
      assert.equal(
        r.headers.get('strict-transport-security'),
        null,
        `${r.name}: no HSTS over plain http`,
      );
    }
  });

  test('the CSP names no third-party source and allows nothing inline', async () => {
    const own = new URL(srv.config.webex.authorizeUrl).origin;
    const csp = parseCsp((await send(`${srv.url}/`)).headers.get('content-security-policy'));
    for (const [directive, sources] of csp) {
      for (const source of sources) {
        assert.doesNotMatch(source, /unsafe|\*|^https?:$|^blob:$/, `${directive} allows ${source}`);
        if (/^[a-z]+:\/\//.test(source)) {
          assert.equal(directive, 'form-action', `${directive} names a remote origin ${source}`);
          assert.equal(source, own, 'only the configured Webex authorize origin may receive forms');
        }
      }
    }
  });

  test('pages load no third-party asset: every src/href stays on this origin', async () => {
    for (const path of ['/', '/device', '/nope']) {
      const page = await send(`${srv.url}${path}`, { headers: { accept: 'text/html' } });
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      for (const m of page.body.matchAll(/\b(?:src|href|action)="([^"]*)"/g)) {
        const target = new URL(m[1]!.replace(/&amp;/g, '&'), srv.url);
        assert.equal(target.origin, new URL(srv.url).origin, `${path} references ${m[1]}`);
      }
    }
  });

  test('HSTS is sent when PUBLIC_URL is https, with a year and subdomains', async () => {
    for (const path of ['/', '/device', '/healthz', '/nope']) {
      const res = await send(`${https.url}${path}`);
      const hsts = res.headers.get('strict-transport-security') ?? '';
      assert.match(hsts, /max-age=31536000/, `${path}: ${hsts}`);
      assert.match(hsts, /includeSubDomains/i);
    }
  });

  test('a spoofed X-Forwarded-Proto does not turn HSTS on for an http deployment', async () => {
    const res = await send(`${srv.url}/`, { headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(res.headers.get('strict-transport-security'), null);
  });

  test('Cache-Control: no-store on every response with per-request data; only fixed ones may be kept', async () => {
    // The home page, the 404 page and the metadata depend on the configuration only: caches
    // may keep them and revalidate (ETag). Everything else dynamic stays no-store.
    const revalidated = new Set(['home', 'home static preset', '404 page', 'metadata']);
    const responses = await sampleResponses(srv);
    for (const r of responses) {
      if (r.name === 'static') {
        assert.match(r.headers.get('cache-control') ?? '', /public/, 'static assets are cacheable');
        continue;
      }
      const expected = revalidated.has(r.name) ? 'no-cache' : 'no-store';
      assert.equal(r.headers.get('cache-control'), expected, `${r.name} (${r.status})`);
      if (expected === 'no-cache') assert.equal(r.headers.get('pragma'), null, r.name);
    }
  });

  test('responses carrying a token, code or state are no-store: device flow and browser flow end to end', async () => {
    const seen: { name: string; headers: Headers }[] = [];
    const auth = await postForm(`${srv.url}/oauth2/device_authorization`, {
      client_id: 'cli',
      scope: 'spark-admin:people_read',
    });
    assert.equal(auth.status, 200, auth.body);
    seen.push({ name: 'device_authorization (device_code)', headers: auth.headers });
    const { device_code, user_code } = JSON.parse(auth.body) as Record<string, string>;

    const browser = new CookieBrowser();
    const fields = await approvalFields(browser, srv.url, user_code!);
    const toWebex = await browser.post(`${srv.url}/device/approve`, fields);
    assert.equal(toWebex.status, 302);
    assert.match(toWebex.location ?? '', /[?&]state=/);
    seen.push({ name: 'approve redirect (state)', headers: toWebex.headers });
    const done = await decideAtSandbox(browser, toWebex, 'accept');
    assert.equal(done.status, 200, done.body.slice(0, 300));
    seen.push({ name: 'callback page (code in URL)', headers: done.headers });

    await pollIntervalPassed();
    const tokens = await postForm(`${srv.url}/oauth2/token`, {
      grant_type: DEVICE_GRANT,
      client_id: 'cli',
      device_code: device_code!,
    });
    assert.equal(tokens.status, 200, tokens.body);
    seen.push({ name: 'token response', headers: tokens.headers });
    const { refresh_token } = JSON.parse(tokens.body) as Record<string, string>;

    const refreshed = await postForm(`${srv.url}/oauth2/token`, {
      grant_type: 'refresh_token',
      client_id: 'cli',
      refresh_token: refresh_token!,
    });
    assert.equal(refreshed.status, 200, refreshed.body);
    seen.push({ name: 'refresh response', headers: refreshed.headers });

    const b2 = new CookieBrowser();
    const start = await b2.get(`${srv.url}/start?scope=spark-admin:people_read`);
    seen.push({ name: '/start redirect (state)', headers: start.headers });
    const page = await decideAtSandbox(b2, start, 'accept');
    assert.match(page.body, /Your tokens are ready/);
    seen.push({ name: 'tokens page', headers: page.headers });

    for (const s of seen) {
      assert.equal(s.headers.get('cache-control'), 'no-store', s.name);
      assert.equal(
        parseCsp(s.headers.get('content-security-policy')).get('frame-ancestors')?.join(' '),
        "'none'",
        s.name,
      );
    }
  });
});
