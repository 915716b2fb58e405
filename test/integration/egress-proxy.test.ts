/**
 * Calls to Webex honour HTTP_PROXY / HTTPS_PROXY / NO_PROXY. A tiny proxy on loopback records
 * what passes through it: CONNECT tunnels (undici tunnels http targets too) and plain
 * forwarded requests. NO_PROXY is always set explicitly, so no default bypasses loopback.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { decideAtSandbox } from '../helpers/admin';
import { CookieBrowser } from '../helpers/http';
import { startSandbox, startTestServer, type RunningSandbox } from '../helpers/server';

interface RecordingProxy {
  url: string;
  /** "CONNECT host:port" or "GET http://host:port/path", in arrival order. */
  seen: string[];
  close(): Promise<void>;
}

async function startRecordingProxy(): Promise<RecordingProxy> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    // Forward proxy: the request line holds the absolute URL.
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const upstream = http.request(
      target,
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('egress through an HTTP proxy', () => {
  let proxy: RecordingProxy;
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    proxy = await startRecordingProxy();
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await proxy.close();
    await sandbox.close();
  });

  test('HTTP_PROXY: the code exchange and people/me go through the proxy', async () => {
    const srv = await startTestServer({
      sandbox,
      env: { HTTP_PROXY: proxy.url, NO_PROXY: 'bypass.example.invalid' },
    });
    try {
      const before = proxy.seen.length;
      const browser = new CookieBrowser();
      const start = await browser.get(`${srv.url}/start?scope=spark-admin:people_read`);
      // The browser itself talks to the sandbox directly: only the service's calls are proxied.
      const page = await decideAtSandbox(browser, start, 'accept');
      assert.equal(page.status, 200, page.body.slice(0, 300));
      assert.match(page.body, /Ada Admin/, 'people/me answered through the proxy');
      const host = new URL(sandbox.url).host;
      const through = proxy.seen.slice(before);
      assert.ok(
        through.length > 0 &&
          through.every((line) => line === `CONNECT ${host}` || line.includes(`//${host}/`)),
        `the service reached ${host} through the proxy: ${JSON.stringify(through)}`,
      );
    } finally {
      await srv.close();
    }
  });

  test('lower-case http_proxy is honoured, and NO_PROXY bypasses the proxy', async () => {
    const lower = await startTestServer({
      sandbox,
      env: { http_proxy: proxy.url, no_proxy: 'bypass.example.invalid' },
    });
    try {
      const before = proxy.seen.length;
      const browser = new CookieBrowser();
      const page = await decideAtSandbox(
        browser,
        await browser.get(`${lower.url}/start?scope=spark-admin:people_read`),
        'accept',
      );
      assert.equal(page.status, 200);
      assert.ok(proxy.seen.length > before, 'http_proxy was used');
    } finally {
      await lower.close();
    }

    const bypass = await startTestServer({
      sandbox,
      env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' },
    });
    try {
      const before = proxy.seen.length;
      const browser = new CookieBrowser();
      const page = await decideAtSandbox(
        browser,
        await browser.get(`${bypass.url}/start?scope=spark-admin:people_read`),
        'accept',
      );
      assert.equal(page.status, 200);
      assert.equal(proxy.seen.length, before, 'NO_PROXY host reached directly');
    } finally {
      await bypass.close();
    }
  });
});
