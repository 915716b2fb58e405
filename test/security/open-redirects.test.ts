/**
 * No open redirects: whatever parameter, header or body field a request carries, the only
 * off-origin place the service sends a browser is the configured Webex authorize URL, with
 * the configured client_id and redirect_uri.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { decideAtSandbox } from '../helpers/admin';
import { CookieBrowser } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';
import { approvalFields, postForm, rawRequest, send } from './support';

const EVIL = [
  'https://evil.example/',
  '//evil.example',
  '///evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '/%2F%2Fevil.example',
  '%2F%2Fevil.example',
  'https:evil.example',
  'http://127.0.0.1.evil.example',
  'https://evil.example@127.0.0.1',
  'javascript:alert(document.domain)',
  'data:text/html,<script>alert(1)</script>',
  '\r\nLocation: https://evil.example',
  '%0d%0aLocation:%20https://evil.example',
  '/\t/evil.example',
  '/oauth?redirect_uri=https://evil.example',
  'https://webexapis.com.evil.example/v1/authorize',
];
/** Names no route reads but redirectors classically use: sent together in one request. */
const UNREAD = [
  'redirect_uri',
  'redirect',
  'return_to',
  'returnTo',
  'next',
  'url',
  'continue',
  'back',
  'target',
  'dest',
];
const PARAMS = [
  ...UNREAD,
  'scope',
  'preset',
  'state',
  'code',
  'error',
  'error_description',
  'user_code',
  'handoff',
  'csrf',
  'client_id',
];

let servers: TestServer[] = [];

/** What the ingress adds in front of the proxied server: the request reached it over HTTPS. */
const viaTls = (s: TestServer): Record<string, string> =>
  s.config.trustProxy ? { 'x-forwarded-proto': 'https' } : {};

class IngressBrowser extends CookieBrowser {
  constructor(private readonly extra: Record<string, string>) {
    super();
  }
  override request(url: string, init: RequestInit & { headers?: Record<string, string> }) {
    return super.request(url, { ...init, headers: { ...this.extra, ...init.headers } });
  }
}
const real = new Map<TestServer, { cookie: string; csrf: string; handoff: string }>();

before(async () => {
  servers = [
    await startTestServer({
      env: { RATE_LIMIT_STARTS: '100000', RATE_LIMIT_USER_CODE_FAILURES: '1000' },
    }),
    await startTestServer({
      env: {
        TRUST_PROXY: 'true',
        PUBLIC_URL: 'https://tokens.example.com',
        RATE_LIMIT_STARTS: '100000',
        RATE_LIMIT_USER_CODE_FAILURES: '1000',
      },
    }),
  ];
  for (const s of servers) {
    const auth = await postForm(
      `${s.url}/oauth2/device_authorization`,
      { client_id: 'cli', scope: 'spark-admin:people_read' },
      viaTls(s),
    );
    const browser = new IngressBrowser(viaTls(s));
    const fields = await approvalFields(browser, s.url, String(JSON.parse(auth.body).user_code));
    const cookie = [...browser.cookies.entries()]
      .map(([k, v]) => `${k.split('|')[1]}=${v}`)
      .join('; ');
    real.set(s, { cookie, csrf: fields.csrf!, handoff: fields.handoff! });
  }
});
after(async () => {
  for (const s of servers) await s.close();
});

/** The one rule: same origin, or exactly the configured authorize endpoint with our client and callback. */
function assertSafeLocation(s: TestServer, location: string | null, context: string) {
  if (location === null) return;
  assert.doesNotMatch(location, /[\r\n\t]/, `${context}: control characters in Location`);
  const own = new URL(s.config.publicUrl);
  const target = new URL(location, s.url);
  if (target.origin === new URL(s.url).origin || target.origin === own.origin) {
    assert.ok(
      target.protocol === 'http:' || target.protocol === 'https:',
      `${context}: ${location}`,
    );
    return;
  }
  const authorize = new URL(s.config.webex.authorizeUrl);
  assert.equal(
    `${target.origin}${target.pathname}`,
    `${authorize.origin}${authorize.pathname}`,
    `${context}: off-origin redirect to ${location}`,
  );
  assert.equal(
    target.searchParams.get('redirect_uri'),
    s.config.redirectUri,
    `${context}: redirect_uri must be ours`,
  );
  assert.equal(
    target.searchParams.get('client_id'),
    s.config.clientId,
    `${context}: client_id must be ours`,
  );
  assert.equal(
    target.searchParams.getAll('redirect_uri').length,
    1,
    `${context}: one redirect_uri`,
  );
  assert.equal(target.username + target.password, '', `${context}: no userinfo`);
}

function assertNoReflectedLink(body: string, context: string) {
  for (const m of body.matchAll(/\b(?:href|action|src|content)="([^"]*)"/gi)) {
    assert.doesNotMatch(
      m[1]!,
      /evil\.example|^javascript:|^data:text/i,
      `${context}: attacker URL reflected as a link: ${m[1]}`,
    );
  }
  assert.doesNotMatch(body, /http-equiv="?refresh/i, `${context}: meta refresh`);
}

type Route = {
  method: 'GET' | 'POST';
  path: string;
  reads: string[];
  base?: (s: TestServer) => Record<string, string>;
  cookie?: boolean;
};
const ROUTES: Route[] = [
  { method: 'GET', path: '/', reads: ['preset'] },
  {
    method: 'GET',
    path: '/start',
    reads: ['scope'],
    base: () => ({ scope: 'spark-admin:people_read' }),
  },
  {
    method: 'GET',
    path: '/oauth',
    reads: ['state', 'code', 'error', 'error_description'],
    base: () => ({ state: 'x', code: 'y' }),
  },
  { method: 'GET', path: '/device', reads: ['user_code'] },
  { method: 'GET', path: '/healthz', reads: [] },
  { method: 'GET', path: '/.well-known/oauth-authorization-server', reads: [] },
  { method: 'GET', path: '/static/app.js', reads: [] },
  { method: 'GET', path: '/nowhere', reads: [] },
  {
    method: 'POST',
    path: '/device',
    reads: ['csrf', 'user_code'],
    cookie: true,
    base: (s) => ({ csrf: real.get(s)!.csrf, user_code: 'BBBB-BBBB' }),
  },
  {
    method: 'POST',
    path: '/device/approve',
    reads: ['csrf', 'handoff'],
    cookie: true,
    base: (s) => ({ csrf: real.get(s)!.csrf, handoff: real.get(s)!.handoff }),
  },
  {
    method: 'POST',
    path: '/device/deny',
    reads: ['csrf', 'handoff'],
    cookie: true,
    base: (s) => ({ csrf: real.get(s)!.csrf, handoff: 'A'.repeat(43) }),
  },
  {
    method: 'POST',
    path: '/oauth2/device_authorization',
    reads: ['client_id', 'client_secret', 'scope'],
    base: () => ({ client_id: 'cli', scope: 'spark-admin:people_read' }),
  },
  {
    method: 'POST',
    path: '/oauth2/token',
    reads: ['grant_type', 'client_id', 'client_secret', 'device_code', 'refresh_token', 'wait'],
    base: () => ({ client_id: 'cli', grant_type: 'refresh_token', refresh_token: 'x' }),
  },
];

async function hit(
  s: TestServer,
  route: Route,
  extra: [string, string][],
  headers: Record<string, string> = {},
) {
  const params = new URLSearchParams(Object.entries(route.base?.(s) ?? {}));
  for (const [k] of extra) params.delete(k);
  for (const [k, v] of extra) params.append(k, v);
  const hdrs: Record<string, string> = {
    accept: 'text/html',
    ...viaTls(s),
    ...(route.cookie ? { cookie: real.get(s)!.cookie } : {}),
    ...headers,
  };
  if (route.method === 'GET')
    return send(`${s.url}${route.path}?${params.toString()}`, { headers: hdrs });
  // Parameters both in the query and in the body.
  return postForm(
    `${s.url}${route.path}?${new URLSearchParams(extra).toString()}`,
    params.toString(),
    hdrs,
  );
}

describe('no open redirects', () => {
  test('every parameter of every route, with every classic redirect payload', async () => {
    let redirects = 0;
    for (const s of servers) {
      // The second (proxied, https) server: the routes that redirect or could.
      const routes =
        s === servers[0] ? ROUTES : ROUTES.filter((r) => /^\/(start|oauth|device)/.test(r.path));
      for (const route of routes) {
        // Each parameter the route reads on its own (replacing its good value), then all the rest at once.
        const sets = [
          ...route.reads.map((name) => [name]),
          PARAMS.filter((p) => !route.reads.includes(p)),
        ];
        for (const names of sets) {
          for (const evil of EVIL) {
            const r = await hit(
              s,
              route,
              names.map((n) => [n, evil]),
              { referer: 'https://evil.example/', 'x-forwarded-host': 'evil.example' },
            );
            const context = `${route.method} ${route.path} ${names.join(',')}=${evil}`;
            assert.ok(r.status < 500, `${context}: ${r.status}`);
            if (r.headers.get('location')) redirects++;
            assertSafeLocation(s, r.headers.get('location'), context);
            assert.equal(r.headers.get('refresh'), null, context);
            assertNoReflectedLink(r.body, context);
          }
        }
      }
    }
    assert.ok(redirects > 30, `the fuzz reached the redirecting routes (${redirects} redirects)`);
  });

  test('fast-check: random parameter sets, repeated and mixed, on every route', async () => {
    const arb = fc.record({
      server: fc.constantFrom(0, 1),
      route: fc.constantFrom(...ROUTES),
      extra: fc.array(
        fc.tuple(
          fc.oneof(fc.constantFrom(...PARAMS), fc.string({ maxLength: 8 })),
          fc.oneof(fc.constantFrom(...EVIL), fc.webUrl(), fc.string({ maxLength: 30 })),
        ),
        { maxLength: 6 },
      ),
      host: fc.constantFrom('evil.example', 'tokens.example.com', '127.0.0.1'),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ server, route, extra, host }) => {
        const s = servers[server]!;
        const r = await hit(s, route, extra, {
          'x-forwarded-host': host,
          'x-forwarded-proto': 'https',
        });
        assert.ok(r.status < 500);
        assertSafeLocation(s, r.headers.get('location'), `${route.path} ${JSON.stringify(extra)}`);
        assertNoReflectedLink(r.body, `${route.path} ${JSON.stringify(extra)}`);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 20_000 },
    );
  });

  test('a spoofed Host header does not change where redirects go', async () => {
    for (const s of servers) {
      for (const path of [
        '/start?scope=spark-admin:people_read',
        '/start?scope=spark-admin:people_read&redirect_uri=https://evil.example/',
      ]) {
        const res = await rawRequest(
          s.url,
          `GET ${path} HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n`,
        );
        assert.equal(res.status, 302);
        const location = /\r\nlocation: ([^\r]*)/i.exec(res.head)?.[1] ?? null;
        assert.ok(location);
        assertSafeLocation(s, location, `Host: evil.example ${path}`);
      }
    }
  });

  test('the whole flows stay on course: Webex authorize, back to REDIRECT_URI, then our pages only', async () => {
    const s = servers[0]!;
    const browser = new CookieBrowser();
    const start = await browser.get(
      `${s.url}/start?scope=spark-admin:people_read&redirect_uri=https://evil.example/&next=//evil.example`,
    );
    assertSafeLocation(s, start.location, '/start');
    assert.ok(start.location?.startsWith(s.config.webex.authorizeUrl));
    const done = await decideAtSandbox(browser, start, 'accept');
    assert.equal(done.status, 200);
    assert.equal(done.location, null, 'the tokens page does not redirect anywhere');
    for (const url of browser.visited) {
      const u = new URL(url);
      assert.ok(
        u.origin === new URL(s.url).origin || u.origin === new URL(s.sandboxUrl).origin,
        `visited ${url}`,
      );
    }
    assertNoReflectedLink(done.body, 'tokens page');
  });
});
