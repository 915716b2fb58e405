/**
 * The browser-binding cookie's flags, and which forwarded headers the service believes:
 * X-Forwarded-Proto / -For count only with TRUST_PROXY=true, and even then only the hop the
 * ingress itself appended, so a client cannot pick its own rate-limit key.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { withTestContext } from '../helpers/jest-context';
import { startTestServer, type TestServer } from '../helpers/server';
import { rawRequest, send, setCookies } from './support';

const LIMITS = { RATE_LIMIT_STARTS: '3', RATE_LIMIT_WINDOW_SECONDS: '60' };
const START = '/start?scope=spark-admin:people_read';

function attrs(line: string): { name: string; value: string; flags: Map<string, string> } {
  const [pair, ...rest] = line.split(';').map((s) => s.trim());
  const eq = pair!.indexOf('=');
  const flags = new Map<string, string>();
  for (const a of rest) {
    const i = a.indexOf('=');
    flags.set((i < 0 ? a : a.slice(0, i)).toLowerCase(), i < 0 ? '' : a.slice(i + 1));
  }
  return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), flags };
}

let plain: TestServer;
let tls: TestServer;
let proxied: TestServer;

beforeAll(async () => {
  plain = await startTestServer({ env: LIMITS });
  tls = await startTestServer({ env: { PUBLIC_URL: 'https://tokens.example.com' } });
  proxied = await startTestServer({
    env: { ...LIMITS, PUBLIC_URL: 'https://tokens.example.com', TRUST_PROXY: 'true' },
  });
});
afterAll(async () => {
  await plain?.close();
  await tls?.close();
  await proxied?.close();
});

describe('browser cookie', () => {
  test('over http: HttpOnly, SameSite=Lax, Path=/, no Secure, random value', async () => {
    const values = new Set<string>();
    for (const path of ['/device', START]) {
      const res = await send(`${plain.url}${path}`);
      const cookies = setCookies(res.headers);
      assert.equal(cookies.length, 1, `${path}: ${cookies.join(' | ')}`);
      const c = attrs(cookies[0]!);
      assert.equal(c.name, 'wst_browser');
      assert.match(c.value, /^[A-Za-z0-9_-]{43}$/, '256-bit random id');
      values.add(c.value);
      assert.ok(c.flags.has('httponly'), `${path}: HttpOnly missing in ${cookies[0]}`);
      assert.equal(c.flags.get('samesite')?.toLowerCase(), 'lax', `${path}: SameSite`);
      assert.equal(c.flags.get('path'), '/');
      assert.ok(!c.flags.has('secure'), 'no Secure flag over plain http');
      assert.ok(!c.flags.has('domain'), 'host-only cookie');
    }
    assert.equal(values.size, 2, 'each browser gets its own id');
  });

  test('with an https PUBLIC_URL: __Host- prefix, Secure, Path=/, no Domain, HttpOnly, Lax', async () => {
    // As a browser reaches it: on PUBLIC_URL's host (another host is redirected there first).
    const res = await rawRequest(
      tls.url,
      'GET /device HTTP/1.1\r\nHost: tokens.example.com\r\nConnection: close\r\n\r\n',
    );
    assert.equal(res.status, 200);
    const c = attrs(/^set-cookie: (.*)$/im.exec(res.head)?.[1] ?? '');
    assert.equal(c.name, '__Host-wst_browser');
    assert.ok(c.flags.has('secure'), 'Secure');
    assert.ok(c.flags.has('httponly'), 'HttpOnly');
    assert.equal(c.flags.get('samesite')?.toLowerCase(), 'lax');
    assert.equal(c.flags.get('path'), '/', '__Host- cookies need Path=/');
    assert.ok(!c.flags.has('domain'), '__Host- cookies must not carry Domain');
  });

  test('behind a TLS-terminating ingress (TRUST_PROXY, X-Forwarded-Proto: https) the cookie is still Secure', async () => {
    const res = await send(`${proxied.url}/device`, {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' },
    });
    const c = attrs(setCookies(res.headers)[0] ?? '');
    assert.equal(c.name, '__Host-wst_browser');
    assert.ok(c.flags.has('secure'));
    assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=/);
  });

  test('a spoofed X-Forwarded-Proto: https on an http deployment does not change the cookie', async () => {
    const res = await send(`${plain.url}/device`, { headers: { 'x-forwarded-proto': 'https' } });
    const c = attrs(setCookies(res.headers)[0] ?? '');
    assert.equal(c.name, 'wst_browser');
    assert.ok(!c.flags.has('secure'));
  });

  test('a cookie that is not one of ours (wrong shape) is replaced, not trusted', async () => {
    const res = await send(`${plain.url}/device`, { headers: { cookie: 'wst_browser=short' } });
    const c = attrs(setCookies(res.headers)[0] ?? '');
    assert.match(c.value, /^[A-Za-z0-9_-]{43}$/);
  });
});

describe('forwarded addresses and rate-limit keys', () => {
  test(
    'without TRUST_PROXY, a spoofed X-Forwarded-For does not escape an exhausted limit',
    withTestContext(async (t) => {
      const direct = await startTestServer({ env: LIMITS });
      t.after(() => direct.close());
      for (let i = 0; i < 3; i++) assert.equal((await send(`${direct.url}${START}`)).status, 302);
      const limited = await send(`${direct.url}${START}`);
      assert.equal(limited.status, 429);
      for (const xff of ['203.0.113.9', '10.0.0.1, 203.0.113.10', '::1', 'garbage']) {
        const spoofed = await send(`${direct.url}${START}`, {
          headers: { 'x-forwarded-for': xff, 'x-real-ip': xff },
        });
        assert.equal(spoofed.status, 429, `X-Forwarded-For: ${xff} must not reset the limit`);
      }
      const lines = direct.logs.filter((l) => l.includes('"url":"/start'));
      assert.ok(lines.length > 0);
      for (const l of lines)
        assert.doesNotMatch(l, /203\.0\.113|garbage/, 'logged address is the socket peer');
    }),
  );

  test(
    'with TRUST_PROXY, the address the ingress appended is the key; a client-supplied first hop is not',
    withTestContext(async (t) => {
      const ingress = await startTestServer({
        env: { ...LIMITS, PUBLIC_URL: 'https://tokens.example.com', TRUST_PROXY: 'true' },
      });
      t.after(() => ingress.close());
      const via = (client: string, spoof?: string) =>
        send(`${ingress.url}${START}`, {
          headers: {
            'x-forwarded-proto': 'https',
            'x-forwarded-for': spoof ? `${spoof}, ${client}` : client,
          },
        });
      for (let i = 0; i < 3; i++) assert.equal((await via('198.51.100.1')).status, 302);
      assert.equal((await via('198.51.100.1')).status, 429);
      // The same client prepending made-up hops: the ingress still appended its real address.
      for (const spoof of ['203.0.113.1', '203.0.113.2', '1.1.1.1, 2.2.2.2']) {
        assert.equal(
          (await via('198.51.100.1', spoof)).status,
          429,
          `spoofed first hop ${spoof} escaped the limit`,
        );
      }
      // Another real client behind the same ingress has its own allowance.
      assert.equal((await via('198.51.100.2')).status, 302);
      assert.ok(
        ingress.logs.some((l) => l.includes('"ip":"198.51.100.2"')),
        'the forwarded address is what gets logged',
      );
    }),
  );
});
