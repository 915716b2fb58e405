/**
 * Hostile input, thrown at every route with fast-check: random and adversarial query
 * parameters, form fields, headers and bodies (oversized, wrong content type, repeated
 * parameters, CR/LF, unicode, invalid percent-encoding, huge scope lists, JSON to form
 * endpoints). The service must answer every one with a clear 4xx (never a 500), never
 * hang (each request has a deadline) and never crash.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import fc from 'fast-check';
import { SCOPE_CATALOG } from '../../src/webex/scopes';
import { CookieBrowser } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';
import {
  DEVICE_GRANT,
  approvalFields,
  postForm,
  rawRequest,
  send,
  sleep,
  watchProcess,
} from './support';

const BODY_LIMIT = 2048;
const DEADLINE_MS = 5000;
const CONFIDENTIAL_SECRET = 'confidential-client-secret-0123456789';

let srv: TestServer;
const watcher = watchProcess();
/** Real values, so random requests also reach the code behind the first checks. */
const real = { deviceCode: '', userCode: '', csrf: '', handoff: '', cookie: '' };

beforeAll(async () => {
  srv = await startTestServer({
    env: {
      TRUST_PROXY: 'true',
      BODY_LIMIT_BYTES: String(BODY_LIMIT),
      DEVICE_MAX_WAIT_SECONDS: '1',
      DEVICE_POLL_INTERVAL_SECONDS: '1',
      RATE_LIMIT_DEVICE_AUTHORIZATIONS: '100000',
      RATE_LIMIT_STARTS: '100000',
      RATE_LIMIT_USER_CODE_FAILURES: '1000',
      DEVICE_CLIENTS: JSON.stringify([
        { id: 'cli', name: 'webex-token CLI' },
        {
          id: 'ci',
          name: 'CI job',
          secret: CONFIDENTIAL_SECRET,
          scopes: ['spark-admin:people_read'],
        },
      ]),
    },
  });
  const auth = await postForm(`${srv.url}/oauth2/device_authorization`, {
    client_id: 'cli',
    scope: 'spark-admin:people_read',
  });
  const json = JSON.parse(auth.body) as Record<string, string>;
  real.deviceCode = json.device_code!;
  real.userCode = json.user_code!;
  const browser = new CookieBrowser();
  const fields = await approvalFields(browser, srv.url, real.userCode);
  real.csrf = fields.csrf!;
  real.handoff = fields.handoff!;
  real.cookie = [...browser.cookies.entries()]
    .map(([k, v]) => `${k.split('|')[1]}=${v}`)
    .join('; ');
});
afterAll(async () => {
  watcher.stop();
  await srv?.close();
});

const ROUTES: { method: string; path: string }[] = [
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/start' },
  { method: 'GET', path: '/oauth' },
  { method: 'GET', path: '/device' },
  { method: 'POST', path: '/device' },
  { method: 'POST', path: '/device/approve' },
  { method: 'POST', path: '/device/deny' },
  { method: 'POST', path: '/oauth2/device_authorization' },
  { method: 'POST', path: '/oauth2/token' },
  { method: 'GET', path: '/.well-known/oauth-authorization-server' },
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/static/app.css' },
  { method: 'GET', path: '/nope/../../etc/passwd' },
  { method: 'PUT', path: '/oauth2/token' },
  { method: 'DELETE', path: '/device' },
  { method: 'OPTIONS', path: '/start' },
  { method: 'HEAD', path: '/device' },
  { method: 'PATCH', path: '/' },
];

const PARAM_NAMES = [
  'scope',
  'preset',
  'state',
  'code',
  'error',
  'error_description',
  'user_code',
  'csrf',
  'handoff',
  'client_id',
  'client_secret',
  'grant_type',
  'device_code',
  'refresh_token',
  'wait',
  'redirect_uri',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  'scope[]',
  'a[b][c]',
  '',
  '%',
  'scope%00',
];

const ADVERSARIAL = [
  '',
  ' ',
  '\r\n',
  '%0d%0aSet-Cookie:%20pwn=1',
  '\r\nLocation: https://evil.example',
  '\u0000',
  '%00',
  '%',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%FF%FE',
  '..%2f..%2fetc%2fpasswd',
  '<script>alert(1)</script>',
  '"><img src=x>',
  "' OR 1=1 --",
  '${jndi:ldap://x}',
  '{{7*7}}',
  '#{7*7}',
  'https://evil.example',
  '//evil.example',
  'javascript:alert(1)',
  'spark:all',
  'spark-admin:people_read',
  'spark-admin:people_read spark:all',
  'BBBB-BBBB',
  'bbbbbbbb',
  DEVICE_GRANT,
  'refresh_token',
  'authorization_code',
  '-1',
  '99999999999999999999',
  '1e309',
  'NaN',
  'true',
  '[]',
  '{}',
  '\uD800',
  '\uFEFF',
  '\u202Egnp.exe',
  'ß'.repeat(100),
  '🙂'.repeat(300),
  'a'.repeat(10_000),
  'x '.repeat(3000),
  'Basic',
  'null',
  'undefined',
  '__proto__',
];

const scopeList = fc
  .array(
    fc.constantFrom(
      ...SCOPE_CATALOG.map((s) => s.scope),
      'spark:all',
      'x:y',
      'nope',
      '',
      ' ',
      'SPARK-ADMIN:PEOPLE_READ',
    ),
    { maxLength: 600 },
  )
  .map((a) => a.join(fc.sample(fc.constantFrom(' ', '+', ',', '%20', '\t'), 1)[0]!));

const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.fullUnicodeString({ maxLength: 40 }),
  fc.constantFrom(...ADVERSARIAL),
  fc.constantFrom(
    'REAL_DEVICE_CODE',
    'REAL_USER_CODE',
    'REAL_CSRF',
    'REAL_HANDOFF',
    'cli',
    'ci',
    CONFIDENTIAL_SECRET,
  ),
  scopeList,
  fc.string({ minLength: 500, maxLength: 4000 }),
);

const realValue = (v: string): string =>
  new Map([
    ['REAL_DEVICE_CODE', real.deviceCode],
    ['REAL_USER_CODE', real.userCode],
    ['REAL_CSRF', real.csrf],
    ['REAL_HANDOFF', real.handoff],
  ]).get(v) ?? v;

/** Encode one query/form component: properly, raw (invalid percent-encoding survives), or double-encoded. */
const encoding = fc.constantFrom<'proper' | 'raw' | 'double'>('proper', 'proper', 'raw', 'double');
function encode(text: string, how: 'proper' | 'raw' | 'double'): string {
  // Lone surrogates cannot be percent-encoded; a browser would send U+FFFD instead.
  const wellFormed = Buffer.from(text, 'utf8').toString('utf8');
  if (how === 'raw') return wellFormed.replace(/[\s#&]/g, (c) => encodeURIComponent(c));
  const once = encodeURIComponent(wellFormed);
  return how === 'double' ? encodeURIComponent(once) : once;
}

const pairs = fc.array(
  fc.record({
    name: fc.oneof(fc.constantFrom(...PARAM_NAMES), fc.string({ maxLength: 10 })),
    value,
    how: encoding,
    repeat: fc.integer({ min: 1, max: 3 }),
  }),
  { maxLength: 8 },
);
function serialize(
  list: { name: string; value: string; how: 'proper' | 'raw' | 'double'; repeat: number }[],
): string {
  const out: string[] = [];
  for (const p of list)
    for (let i = 0; i < p.repeat; i++)
      out.push(`${encode(p.name, p.how)}=${encode(realValue(p.value), p.how)}`);
  return out.join('&');
}

/** Header values fetch can carry: latin1 without control characters. */
const headerText = fc
  .oneof(
    fc.string({ maxLength: 60 }),
    fc.constantFrom(...ADVERSARIAL),
    fc.string({ minLength: 200, maxLength: 2000 }),
  )
  .map((s) => s.replace(/[^\x20-\x7e\x80-\xff\t]/g, '').trim());

const headers = fc.record(
  {
    accept: fc.oneof(
      fc.constantFrom(
        'text/html',
        'application/json',
        '*/*',
        'text/*;q=0.1, application/json;q=0.9',
        'image/png',
      ),
      headerText,
    ),
    cookie: fc.oneof(
      fc.constant('REAL_COOKIE'),
      headerText.map((s) => `wst_browser=${s}`),
      headerText.map((s) => `__Host-wst_browser=${s}; wst_browser=${s}`),
      headerText,
    ),
    authorization: fc.oneof(
      fc.string({ maxLength: 60 }).map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
      fc.constant(`Basic ${Buffer.from(`ci:${CONFIDENTIAL_SECRET}`).toString('base64')}`),
      fc.constant(`Basic ${Buffer.from('ci%3A:%E0%A4%A').toString('base64')}`),
      fc.constantFrom('Basic', 'Basic !!!', 'Bearer abc', 'basic Y2xpOg==  ', 'Digest x'),
      headerText,
    ),
    'x-forwarded-for': fc.oneof(
      fc.constantFrom('203.0.113.5', '::1', 'unknown', '1.1.1.1, 2.2.2.2', ''),
      headerText,
    ),
    'x-forwarded-proto': fc.constantFrom('https', 'http', 'gopher', ''),
    'user-agent': headerText,
    origin: fc.constantFrom('https://evil.example', 'null'),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity'),
  },
  { requiredKeys: [] },
);

const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset=latin1',
  'application/x-www-form-urlencoded; charset=utf-16',
  'application/x-www-form-urlencoded; charset=x-nonsense',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'garbage/;;;=',
];

const body = fc.oneof(
  fc.record({ kind: fc.constant('form' as const), pairs }),
  fc.record({ kind: fc.constant('json' as const), pairs }),
  fc.record({
    kind: fc.constant('text' as const),
    text: fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.fullUnicodeString({ maxLength: 200 }),
      fc.constantFrom(...ADVERSARIAL),
    ),
  }),
  fc.constant({ kind: 'none' as const }),
);

const request = fc.record({
  route: fc.constantFrom(...ROUTES),
  query: pairs,
  headers,
  body,
  contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
});

type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

async function fire(req: Req) {
  const hdrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) hdrs[k] = v === 'REAL_COOKIE' ? real.cookie : v;
  let payload: string | undefined;
  if (req.route.method !== 'GET' && req.route.method !== 'HEAD' && req.body.kind !== 'none') {
    if (req.body.kind === 'form') payload = serialize(req.body.pairs);
    else if (req.body.kind === 'json')
      payload = JSON.stringify(
        Object.fromEntries(req.body.pairs.map((p) => [p.name, realValue(p.value)])),
      );
    else payload = req.body.text;
    hdrs['content-type'] =
      req.contentType ??
      (req.body.kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded');
  }
  if (payload === undefined) delete hdrs['content-encoding'];
  const q = serialize(req.query);
  const url = `${srv.url}${req.route.path}${q ? `?${q}` : ''}`;
  const t0 = performance.now();
  const res = await fetch(url, {
    method: req.route.method,
    headers: hdrs,
    body: payload,
    redirect: 'manual',
    signal: AbortSignal.timeout(DEADLINE_MS),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text,
    ms: performance.now() - t0,
    url,
    payload,
  };
}

function assertClean(r: Awaited<ReturnType<typeof fire>>, path: string, method: string) {
  const ctx = `${method} ${r.url.slice(0, 300)} body=${JSON.stringify(r.payload ?? '').slice(0, 300)} → ${r.status} ${r.body.slice(0, 300)}`;
  assert.ok(r.status < 500, `server error: ${ctx}`);
  assert.ok(
    !/An unexpected error happened|server_error|Internal error/.test(r.body),
    `internal error text: ${ctx}`,
  );
  // 431 comes from Node's HTTP parser (request line + headers over 16 KiB), before the app.
  if (r.status >= 400 && r.status !== 431 && method !== 'HEAD') {
    assert.ok(r.body.length > 0, `an error without an explanation: ${ctx}`);
    if (path.startsWith('/oauth2/')) {
      const json = JSON.parse(r.body) as Record<string, unknown>;
      assert.equal(typeof json.error, 'string', ctx);
      assert.equal(typeof json.error_description, 'string', ctx);
    }
  }
  for (const h of r.headers.getSetCookie())
    assert.match(h, /^(__Host-)?wst_browser=[A-Za-z0-9_-]{43};/, `unexpected cookie ${h}: ${ctx}`);
  assert.ok(!r.headers.has('pwn'), `header injection: ${ctx}`);
}

describe('hostile input', () => {
  test('fast-check: random and adversarial requests to every route never get a 500, never hang', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const r = await fire(req);
        assertClean(r, req.route.path, req.route.method);
      }),
      {
        numRuns: 600,
        interruptAfterTimeLimit: 40_000,
        seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31),
      },
    );
  });

  test('fast-check: every form endpoint with repeated, nested and unicode parameters answers 4xx', async () => {
    const formRoutes = [
      '/device',
      '/device/approve',
      '/device/deny',
      '/oauth2/device_authorization',
      '/oauth2/token',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...formRoutes),
        pairs,
        fc.boolean(),
        async (path, list, withCookie) => {
          const res = await postForm(
            `${srv.url}${path}`,
            serialize(list),
            withCookie ? { cookie: real.cookie } : {},
          );
          assert.ok(
            res.status < 500,
            `${path} ${serialize(list).slice(0, 300)} → ${res.status} ${res.body.slice(0, 200)}`,
          );
        },
      ),
      { numRuns: 200, interruptAfterTimeLimit: 20_000 },
    );
  });

  test('oversized form bodies are refused with 413 on every form endpoint (declared and chunked)', async () => {
    const big = `scope=${'a'.repeat(BODY_LIMIT + 10)}`;
    for (const path of [
      '/device',
      '/device/approve',
      '/device/deny',
      '/oauth2/device_authorization',
      '/oauth2/token',
    ]) {
      const declared = await postForm(`${srv.url}${path}`, big, { cookie: real.cookie });
      assert.equal(declared.status, 413, `${path}: ${declared.body.slice(0, 200)}`);
      assert.match(declared.body, /larger than this service accepts/);
      const stream = new ReadableStream({
        start(controller) {
          for (let i = 0; i < 4; i++)
            controller.enqueue(new TextEncoder().encode(`x${i}=${'b'.repeat(BODY_LIMIT / 2)}&`));
          controller.close();
        },
      });
      const chunked = await fetch(`${srv.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: stream,
        duplex: 'half',
        signal: AbortSignal.timeout(DEADLINE_MS),
      } as RequestInit);
      assert.equal(chunked.status, 413, `${path} chunked`);
      await chunked.text();
    }
    // Just under the limit is read normally.
    const fits = await postForm(
      `${srv.url}/oauth2/token`,
      `grant_type=nope&pad=${'a'.repeat(BODY_LIMIT - 40)}`,
    );
    assert.equal(JSON.parse(fits.body).error, 'unsupported_grant_type');
  });

  test('a JSON body (or any non-form body) to a form endpoint is a clear 4xx, also when oversized', async () => {
    for (const path of ['/oauth2/device_authorization', '/oauth2/token']) {
      for (const payload of [
        '{"client_id":"cli","scope":"spark-admin:people_read"}',
        JSON.stringify({ pad: 'x'.repeat(BODY_LIMIT * 4) }),
      ]) {
        const res = await send(`${srv.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: payload,
        });
        assert.ok(
          res.status === 400 || res.status === 413 || res.status === 415,
          `${path}: ${res.status}`,
        );
        assert.equal(JSON.parse(res.body).error, 'invalid_request');
        assert.match(
          JSON.parse(res.body).error_description,
          /x-www-form-urlencoded|larger|content type/,
        );
      }
    }
    const page = await send(`${srv.url}/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: real.cookie, accept: 'text/html' },
      body: '{"csrf":"x"}',
    });
    assert.ok(page.status >= 400 && page.status < 500);
    assert.match(page.body, /Error code/);
  });

  test('malformed form bodies (bad charset, invalid percent-encoding) are 4xx', async () => {
    const cases: [string, string][] = [
      ['application/x-www-form-urlencoded; charset=x-nonsense', 'client_id=cli'],
      ['application/x-www-form-urlencoded; charset=utf-16', 'client_id=cli'],
      ['application/x-www-form-urlencoded', 'client_id=%E0%A4%A&scope=%'],
      ['application/x-www-form-urlencoded', 'client_id=cli&client_id=cli'],
      ['application/x-www-form-urlencoded', 'client_id[a]=cli'],
      ['application/x-www-form-urlencoded', '&&&==&='],
    ];
    for (const [type, payload] of cases) {
      const res = await send(`${srv.url}/oauth2/device_authorization`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: payload,
      });
      assert.ok(
        res.status >= 400 && res.status < 500,
        `${type} ${payload} → ${res.status} ${res.body}`,
      );
      assert.equal(typeof JSON.parse(res.body).error, 'string');
    }
  });

  test('a body that does not match its Content-Encoding is a 400, not a 500', async () => {
    for (const encoding of ['gzip', 'deflate', 'br']) {
      const res = await send(`${srv.url}/oauth2/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-encoding': encoding,
        },
        body: 'grant_type=refresh_token',
      });
      assert.equal(res.status, 400, `${encoding}: ${res.body}`);
      assert.match(JSON.parse(res.body).error_description, /decompressed/);
    }
    const unknown = await send(`${srv.url}/oauth2/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-encoding': 'x-bogus',
      },
      body: 'grant_type=refresh_token',
    });
    assert.equal(unknown.status, 415);
  });

  test('a method a route does not take is a 405 in the error format (JSON for scripts, with Allow)', async () => {
    const res = await send(`${srv.url}/oauth2/token`, { method: 'PUT' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    assert.equal(JSON.parse(res.body).error, 'invalid_request');
    const page = await send(`${srv.url}/device/approve`, {
      method: 'GET',
      headers: { accept: 'text/html' },
    });
    assert.equal(page.status, 405);
    assert.match(page.body, /does not accept GET requests/);
  });

  test('raw CR/LF, NUL and non-UTF-8 bytes on the wire never reach the app as a 500', async () => {
    const host = new URL(srv.url).host;
    const requests = [
      `GET /start?scope=a\r\nSet-Cookie: pwn=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      `GET /device HTTP/1.1\r\nHost: ${host}\r\nX-Test: a\rb\r\nConnection: close\r\n\r\n`,
      `GET /device HTTP/1.1\r\nHost: ${host}\r\nX-Test: a\u0000b\r\nConnection: close\r\n\r\n`,
      `GET /device HTTP/1.1\r\nHost: ${host}\r\nCookie: wst_browser=\u00ff\u00fe\r\nConnection: close\r\n\r\n`,
      `GET /\u00ff\u00fe%E0%A4%A?scope=\u00ff HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      `GET /device/%E0%A4%A HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      `GET /% HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      `GET /start?scope=%E0%A4%A&scope=%&%=% HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      `POST /oauth2/token HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\nContent-Length: 6\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\na=b&c`,
      `POST /oauth2/token HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
      `GET /device HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
      `GET /device HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n`,
      `GET /oauth?state=\u00ff%0D%0A&code=%0A HTTP/1.1\r\nHost: ${host}\r\nAccept: text/html\r\nConnection: close\r\n\r\n`,
      `POST /oauth2/device_authorization HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 30\r\nConnection: close\r\n\r\nclient_id=cli&scope=\u00ff\u00fe\r\n%0d%0a`,
    ];
    for (const raw of requests) {
      const res = await rawRequest(srv.url, Buffer.from(raw, 'latin1'), DEADLINE_MS);
      assert.ok(
        res.status >= 200 && res.status < 500,
        `${JSON.stringify(raw.slice(0, 80))} → ${res.status} ${res.body.slice(0, 200)}`,
      );
      assert.doesNotMatch(
        res.head,
        /\r\nSet-Cookie: pwn|\r\nLocation: [^\r]*evil/i,
        'no header injection',
      );
    }
  });

  test('after the barrage: alive, ready, and no unhandled rejection', async () => {
    assert.equal((await send(`${srv.url}/healthz`)).status, 200);
    assert.equal((await send(`${srv.url}/readyz`)).status, 200);
    await sleep(50);
    assert.deepEqual(watcher.problems, []);
    const failures = srv.logs.filter(
      (l) => l.includes('request failed') || l.includes('unhandled app error'),
    );
    assert.deepEqual(failures, [], 'no 5xx was logged');
  });
});
