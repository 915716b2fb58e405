/**
 * What an attacker with network access to the pod (or a client talking plain http to the
 * ingress) can send: made-up X-Forwarded-For values are ignored, plain http is redirected or
 * refused behind a trusted proxy, and the sandbox never redirects off the service's callback.
 */
import http from 'node:http';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clientAddress } from '../../src/middleware/proxy';
import { CookieBrowser, forms } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';
import { DEVICE_GRANT, postForm, send } from './support';

const PUBLIC = 'https://tokens.example.com';
let proxied: TestServer;
let direct: TestServer;

before(async () => {
  proxied = await startTestServer({
    env: { PUBLIC_URL: PUBLIC, TRUST_PROXY: 'true', RATE_LIMIT_USER_CODE_FAILURES: '1000' },
  });
  direct = await startTestServer({ env: { PUBLIC_URL: PUBLIC } });
});
after(async () => {
  await proxied?.close();
  await direct?.close();
});

const TLS = { 'x-forwarded-proto': 'https' };

describe('forwarded addresses', () => {
  test('an X-Forwarded-For that is not a valid IP is ignored: the socket address is used', async () => {
    const junk = [
      '<script>alert(1)</script>',
      'evil.example',
      '198.51.100.7:4444',
      '999.1.1.1',
      'unknown',
      '" onmouseover="x',
      '2001:db8::zz',
    ];
    for (const value of junk) {
      const auth = await postForm(
        `${proxied.url}/oauth2/device_authorization`,
        { client_id: 'cli', scope: 'spark-admin:people_read' },
        { ...TLS, 'x-forwarded-for': `203.0.113.5, ${value}` },
      );
      assert.equal(auth.status, 200, auth.body);
      const { user_code: code } = JSON.parse(auth.body) as { user_code: string };
      const page = await approvalPage(code);
      assert.match(page, /127\.0\.0\.1/, `${value}: the page shows the socket address`);
      assert.ok(!page.includes('203.0.113.5'), 'an earlier (client-made) hop is never used');
      assert.ok(!page.includes(value.replace(/"/g, '&quot;')) || value === 'unknown', value);
    }
    const line = proxied.logs.find((l) => l.includes('"event":"handoff_requested"'))!;
    assert.match(line, /"address":"127\.0\.0\.1"/);
  });

  test('a valid forwarded address (IPv4 or IPv6) is shown and logged', async () => {
    for (const ip of ['198.51.100.77', '2001:db8::77']) {
      const auth = await postForm(
        `${proxied.url}/oauth2/device_authorization`,
        { client_id: 'cli', scope: 'spark-admin:people_read' },
        { ...TLS, 'x-forwarded-for': ip },
      );
      const page = await approvalPage(JSON.parse(auth.body).user_code as string);
      assert.ok(page.includes(ip), `${ip} shown on the approval page`);
    }
  });

  test('the middleware picks the valid IP or the socket peer', async () => {
    const run = async (xff: string | undefined, trustProxy = true) => {
      const ctx = {
        request: { ips: xff ? [xff] : [], ip: '' },
        req: { socket: { remoteAddress: '10.1.2.3' } },
      };
      await clientAddress({ trustProxy })(ctx as never, async () => undefined);
      return ctx.request.ip;
    };
    assert.equal(await run('192.0.2.1'), '192.0.2.1');
    assert.equal(await run('2001:db8::1'), '2001:db8::1');
    assert.equal(await run('192.0.2.1:80'), '10.1.2.3');
    assert.equal(await run('nonsense'), '10.1.2.3');
    assert.equal(await run(undefined), '10.1.2.3');
  });
});

async function approvalPage(userCode: string): Promise<string> {
  const browser = new CookieBrowser();
  const enter = await browser.get(`${proxied.url}/device`, TLS);
  const csrf = forms(enter.body).find((f) => f.action === '/device')!.fields.csrf!;
  const page = await browser.post(`${proxied.url}/device`, { csrf, user_code: userCode }, TLS);
  assert.equal(page.status, 200, page.body.slice(0, 300));
  return page.body;
}

describe('HTTPS behind a trusted proxy', () => {
  test('pages over http are redirected to the https PUBLIC_URL (308), query kept', async () => {
    for (const proto of [{ 'x-forwarded-proto': 'http' }, {}] as Record<string, string>[]) {
      const res = await send(`${proxied.url}/device?user_code=BCDF-GHJK`, {
        headers: { ...proto, accept: 'text/html' },
      });
      assert.equal(res.status, 308, JSON.stringify(proto));
      assert.equal(res.headers.get('location'), `${PUBLIC}/device?user_code=BCDF-GHJK`);
      assert.equal(res.headers.getSetCookie().length, 0, 'no cookie handed out over http');
    }
    const start = await send(`${proxied.url}/start?scope=spark-admin:people_read`, {
      headers: { 'x-forwarded-proto': 'http' },
    });
    assert.equal(start.status, 308, 'no sign-in starts over http');
  });

  test('machine endpoints over http are refused with invalid_request, never redirected', async () => {
    const deviceAuth = await postForm(
      `${proxied.url}/oauth2/device_authorization`,
      { client_id: 'cli', scope: 'spark-admin:people_read' },
      { 'x-forwarded-proto': 'http' },
    );
    assert.equal(deviceAuth.status, 400);
    assert.equal(JSON.parse(deviceAuth.body).error, 'invalid_request');
    assert.match(JSON.parse(deviceAuth.body).error_description, /HTTPS only/);
    assert.equal(deviceAuth.headers.get('location'), null);
    const token = await postForm(
      `${proxied.url}/oauth2/token`,
      { grant_type: DEVICE_GRANT, client_id: 'cli', device_code: 'x'.repeat(43) },
      { 'x-forwarded-proto': 'http' },
    );
    assert.equal(token.status, 400);
    assert.equal(JSON.parse(token.body).error, 'invalid_request');
    const metadata = await send(`${proxied.url}/.well-known/oauth-authorization-server`, {
      headers: { 'x-forwarded-proto': 'http' },
    });
    assert.equal(metadata.status, 400);
    assert.equal(JSON.parse(metadata.body).error, 'invalid_request');
  });

  test('a form posted over http is refused with a page saying to use https', async () => {
    const res = await postForm(
      `${proxied.url}/device`,
      { csrf: 'x', user_code: 'BCDF-GHJK' },
      { 'x-forwarded-proto': 'http', accept: 'text/html' },
    );
    assert.equal(res.status, 400);
    assert.match(res.body, /HTTPS required/);
    assert.match(res.body, /https:\/\/tokens\.example\.com/);
  });

  test('over https everything works; probes reach the pod without the header', async () => {
    assert.equal((await send(`${proxied.url}/device`, { headers: TLS })).status, 200);
    const auth = await postForm(
      `${proxied.url}/oauth2/device_authorization`,
      { client_id: 'cli', scope: 'spark-admin:people_read' },
      TLS,
    );
    assert.equal(auth.status, 200);
    assert.equal((await send(`${proxied.url}/healthz`)).status, 200);
    assert.equal((await send(`${proxied.url}/readyz`)).status, 200);
  });

  test('without TRUST_PROXY the header is not believed, and nothing is enforced on it', async () => {
    // With the Host the browser would use (fetch cannot set it), so the canonical-host redirect
    // stays out of the way.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get(
        `${direct.url}/device`,
        { headers: { 'x-forwarded-proto': 'http', host: new URL(PUBLIC).host } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
    });
    assert.equal(status, 200);
  });
});

describe('sandbox', () => {
  test('the authorize step sends browsers back only to the service callback', async () => {
    const start = await send(`${proxied.url}/start?scope=spark-admin:people_read`, {
      headers: TLS,
    });
    const authorize = new URL(start.headers.get('location')!);
    for (const evil of [
      'https://evil.example/oauth',
      `${PUBLIC}/oauth/../evil`,
      `${PUBLIC}/oauth?x=1`,
      'http://127.0.0.1:1/steal',
    ]) {
      const q = new URLSearchParams(authorize.search);
      q.set('redirect_uri', evil);
      const form = await postForm(`${authorize.origin}${authorize.pathname}`, {
        ...Object.fromEntries(q),
        decision: 'accept',
      });
      assert.equal(form.status, 400, evil);
      assert.equal(form.headers.get('location'), null, `${evil}: no redirect`);
      assert.match(form.body, /redirect_uri is not the service/);
    }
    // The real callback still works.
    const ok = await postForm(`${authorize.origin}${authorize.pathname}`, {
      ...Object.fromEntries(new URLSearchParams(authorize.search)),
      decision: 'accept',
    });
    assert.equal(ok.status, 302);
    assert.ok(ok.headers.get('location')!.startsWith(`${PUBLIC}/oauth?`));
  });
});
