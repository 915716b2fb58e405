/**
 * Issue 13, host mismatch: a browser that reaches a page on another address than PUBLIC_URL
 * (127.0.0.1 for localhost, say) is sent to the same path and query on PUBLIC_URL before any
 * flow starts, since the sign-in cookie would be set for the wrong host. Machine endpoints,
 * metadata, health and metrics answer on any host. Behind a trusted proxy the forwarded host
 * decides, and without one nothing is redirected (a proxy may rewrite Host).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request to the server's socket with a Host header of our choosing. */
function request(
  srv: TestServer,
  method: string,
  pathAndQuery: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  const { hostname, port } = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname, port, method, path: pathAndQuery, headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('a browser on another host than PUBLIC_URL', () => {
  let srv: TestServer;
  let other = '';
  beforeAll(async () => {
    srv = await startTestServer();
    other = `localhost:${new URL(srv.url).port}`; // PUBLIC_URL is http://127.0.0.1:<port>
  });
  afterAll(() => srv.close());

  test('pages are redirected to PUBLIC_URL, same path and query, before any flow starts', async () => {
    const paths = [
      '/',
      '/start?scope=spark-admin%3Apeople_read',
      '/device?user_code=BCDF-GHJK',
      '/oauth?code=abc&state=xyz',
    ];
    for (const p of paths) {
      for (const method of ['GET', 'HEAD']) {
        const res = await request(srv, method, p, { host: other, accept: 'text/html' });
        assert.equal(res.status, 302, `${method} ${p}`);
        assert.equal(res.headers.location, `${srv.url}${p}`, `${method} ${p}`);
        assert.equal(res.headers['set-cookie'], undefined, `${method} ${p}: no cookie, no flow`);
      }
    }
    assert.equal(srv.sandbox.calls.token, 0, 'the callback on the wrong host reached nothing');
  });

  test('the same pages on PUBLIC_URL are served', async () => {
    const home = await request(srv, 'GET', '/', { host: new URL(srv.url).host });
    assert.equal(home.status, 200);
    const start = await request(srv, 'GET', '/start?scope=spark-admin%3Apeople_read', {
      host: new URL(srv.url).host,
    });
    assert.equal(start.status, 302);
    assert.match(String(start.headers.location), /\/sandbox\/v1\/authorize|\/v1\/authorize/);
    assert.ok(start.headers['set-cookie'], 'the flow starts and binds the browser');
  });

  test('machine endpoints, metadata, health and metrics answer on any host', async () => {
    const auth = await request(
      srv,
      'POST',
      '/oauth2/device_authorization',
      { host: other, 'content-type': 'application/x-www-form-urlencoded' },
      'client_id=cli&scope=spark-admin%3Apeople_read',
    );
    assert.equal(auth.status, 200, auth.body);
    for (const p of [
      '/.well-known/oauth-authorization-server',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      const res = await request(srv, 'GET', p, { host: other });
      assert.equal(res.status, 200, p);
    }
    // A POST to a page (a form) is not redirected: a redirect would drop its body.
    const post = await request(
      srv,
      'POST',
      '/device',
      { host: other, 'content-type': 'application/x-www-form-urlencoded' },
      'user_code=BCDF-GHJK',
    );
    assert.notEqual(post.status, 302);
  });
});

describe('behind a trusted proxy (TRUST_PROXY=true)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ env: { TRUST_PROXY: 'true' } });
  });
  afterAll(() => srv.close());

  test('the forwarded host decides; a proxy that sends none is trusted to route', async () => {
    const wrong = await request(srv, 'GET', '/device', {
      host: 'wst.tokens.svc.cluster.local',
      'x-forwarded-host': 'tokens-old.example.com',
    });
    assert.equal(wrong.status, 302);
    assert.equal(wrong.headers.location, `${srv.url}/device`);
    const right = await request(srv, 'GET', '/device', {
      host: 'wst.tokens.svc.cluster.local',
      'x-forwarded-host': new URL(srv.url).host,
    });
    assert.equal(right.status, 200, 'the internal Host header does not matter');
    const none = await request(srv, 'GET', '/device', { host: 'wst.tokens.svc.cluster.local' });
    assert.equal(none.status, 200, 'no X-Forwarded-Host: no redirect (it could loop)');
  });
});
