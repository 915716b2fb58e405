/**
 * Pages fixed by the configuration and the static files are sent as bytes compressed once:
 * brotli, gzip or identity by Accept-Encoding, the same HTML whichever, a strong ETag per
 * encoding, 304 on If-None-Match; static files under content-hashed names kept for a year.
 * Responses with a secret are never compressed on the fly (BREACH, src/middleware/compress.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server';

const BROWSER = 'gzip, deflate, br, zstd';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: Buffer;
}

/** One request over plain http: the bytes as sent, nothing decoded. */
function raw(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          bytes: Buffer.concat(chunks),
        }),
      );
    });
    req.on('error', reject);
    req.end(method === 'POST' ? 'grant_type=x' : undefined);
  });
}

function decoded(r: Raw): string {
  const enc = r.headers['content-encoding'];
  if (enc === 'br') return zlib.brotliDecompressSync(r.bytes).toString();
  if (enc === 'gzip') return zlib.gunzipSync(r.bytes).toString();
  assert.equal(enc, undefined, `unexpected encoding ${enc}`);
  return r.bytes.toString();
}

let dynamic: TestServer;
let fixed: TestServer;

beforeAll(async () => {
  dynamic = await startTestServer();
  fixed = await startTestServer({
    env: { SCOPES_MODE: 'static', SCOPES: 'spark-admin:people_read spark-admin:licenses_read' },
  });
});
afterAll(async () => {
  await dynamic?.close();
  await fixed?.close();
});

describe('pages fixed by the configuration', () => {
  for (const mode of ['dynamic', 'static'] as const) {
    test(`${mode} home: br, gzip and identity carry the same HTML, each with its strong ETag`, async () => {
      const url = `${mode === 'dynamic' ? dynamic.url : fixed.url}/`;
      const br = await raw(url, { 'accept-encoding': BROWSER });
      const gz = await raw(url, { 'accept-encoding': 'gzip' });
      const plain = await raw(url);
      const refused = await raw(url, { 'accept-encoding': 'br;q=0, gzip' });
      assert.equal(br.headers['content-encoding'], 'br');
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(refused.headers['content-encoding'], 'gzip');
      const html = plain.bytes.toString();
      assert.match(html, /<h1>Get a scoped Webex token<\/h1>/);
      assert.equal(decoded(br), html);
      assert.equal(decoded(gz), html);
      assert.ok(br.bytes.length < html.length / 2, `brotli: ${br.bytes.length} of ${html.length}`);
      const tags = [br, gz, plain].map((r) => r.headers.etag ?? '');
      for (const r of [br, gz, plain]) {
        assert.equal(r.status, 200);
        assert.match(r.headers.etag ?? '', /^"[\w-]+"$/, 'a strong ETag');
        assert.equal(r.headers.vary, 'Accept-Encoding');
        assert.equal(r.headers['cache-control'], 'no-cache');
        assert.equal(r.headers['set-cookie'], undefined, 'nothing per browser in the page');
        assert.match(r.headers['content-type'] ?? '', /^text\/html/);
      }
      assert.equal(new Set(tags).size, 3, `one tag per encoding: ${tags.join(' ')}`);
    });

    test(`${mode} home: 304 without a body when the browser holds the page`, async () => {
      const url = `${mode === 'dynamic' ? dynamic.url : fixed.url}/`;
      const first = await raw(url, { 'accept-encoding': BROWSER });
      const again = await raw(url, {
        'accept-encoding': BROWSER,
        'if-none-match': first.headers.etag!,
      });
      assert.equal(again.status, 304);
      assert.equal(again.bytes.length, 0);
      assert.equal(again.headers.etag, first.headers.etag);
      const other = await raw(url, { 'accept-encoding': BROWSER, 'if-none-match': '"other"' });
      assert.equal(other.status, 200);
    });
  }

  test('a preset is its own page; an unknown preset is the plain home page', async () => {
    const plain = await raw(`${dynamic.url}/`);
    const unknown = await raw(`${dynamic.url}/?preset=nope`);
    const presetId = /href="\/\?preset=([\w-]+)"/.exec(plain.bytes.toString())?.[1];
    assert.ok(presetId, 'the home page lists presets');
    const preset = await raw(`${dynamic.url}/?preset=${presetId}`);
    assert.equal(unknown.headers.etag, plain.headers.etag);
    assert.notEqual(preset.headers.etag, plain.headers.etag);
    assert.match(preset.bytes.toString(), /aria-current="true"/);
  });

  test('the 404 page is compressed too, but never answered with 304', async () => {
    const first = await raw(`${dynamic.url}/nope`, {
      accept: 'text/html',
      'accept-encoding': BROWSER,
    });
    assert.equal(first.status, 404);
    assert.equal(first.headers['content-encoding'], 'br');
    assert.match(decoded(first), /There is no page at this address/);
    const again = await raw(`${dynamic.url}/nope`, {
      accept: 'text/html',
      'accept-encoding': BROWSER,
      'if-none-match': first.headers.etag!,
    });
    assert.equal(again.status, 404);
    assert.equal(decoded(again), decoded(first));
  });
});

describe('static files', () => {
  test('pages reference content-hashed names, served for a year and revalidated by ETag', async () => {
    const html = (await raw(`${dynamic.url}/`)).bytes.toString();
    const refs = [...html.matchAll(/(?:href|src)="(\/static\/[^"]+)"/g)].map((m) => m[1]!);
    for (const name of ['app.css', 'app.js', 'favicon.svg']) {
      const [base, ext] = name.split('.');
      const ref = refs.find((r) => new RegExp(`^/static/${base}\\.[0-9a-f]{10}\\.${ext}$`).test(r));
      assert.ok(ref, `${name} referenced by its hashed name: ${refs.join(' ')}`);
      const file = fs.readFileSync(path.join(__dirname, '../../src/public', name));
      const br = await raw(`${dynamic.url}${ref}`, { 'accept-encoding': BROWSER });
      assert.equal(br.status, 200);
      assert.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
      // The icon is too small to be worth compressing (under 256 bytes).
      assert.equal(br.headers['content-encoding'], file.length < 256 ? undefined : 'br');
      assert.equal(decoded(br), file.toString());
      const gz = await raw(`${dynamic.url}${ref}`, { 'accept-encoding': 'gzip' });
      assert.equal(decoded(gz), file.toString());
      const held = await raw(`${dynamic.url}${ref}`, {
        'accept-encoding': BROWSER,
        'if-none-match': br.headers.etag!,
      });
      assert.equal(held.status, 304);
      // The plain name still answers, for pages and bookmarks from before, with a short cache.
      const plain = await raw(`${dynamic.url}/static/${name}`);
      assert.equal(plain.status, 200);
      assert.equal(plain.headers['cache-control'], 'public, max-age=300');
      assert.deepEqual(plain.bytes, file);
    }
  });
});

describe('compression on the fly', () => {
  test('a response with no secret and over 1 KB is compressed (the metadata)', async () => {
    const r = await raw(`${dynamic.url}/.well-known/oauth-authorization-server`, {
      'accept-encoding': BROWSER,
    });
    const json = decoded(r);
    assert.ok(json.length > 1024, `metadata is ${json.length} bytes`);
    assert.equal(r.headers['content-encoding'], 'br');
    assert.equal((JSON.parse(json) as { issuer: string }).issuer, dynamic.config.publicUrl);
  });

  test('pages with a CSRF token and token endpoint answers are never compressed', async () => {
    const device = await raw(`${dynamic.url}/device?user_code=ABCD-EFGH`, {
      'accept-encoding': BROWSER,
      accept: 'text/html',
    });
    assert.match(device.bytes.toString(), /name="csrf"/);
    assert.ok(device.bytes.length > 1024);
    assert.equal(device.headers['content-encoding'], undefined);
    assert.equal(device.headers['cache-control'], 'no-store');
    const token = await raw(
      `${dynamic.url}/oauth2/token`,
      { 'accept-encoding': BROWSER, 'content-type': 'application/x-www-form-urlencoded' },
      'POST',
    );
    assert.equal(token.status, 400);
    assert.equal(token.headers['content-encoding'], undefined);
  });
});
