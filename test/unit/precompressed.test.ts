/**
 * The encoding chosen for an Accept-Encoding header, and what represent() keeps: the bytes a
 * client decodes back to the original, one strong tag per encoding, nothing compressed that
 * would not get smaller.
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { describe, test } from '@jest/globals';
import { pickEncoding, represent } from '../../src/middleware/precompressed';
import { pageCache } from '../../src/views/page-cache';

const ALL = new Set(['br', 'gzip', 'identity'] as const);

describe('pickEncoding', () => {
  test.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip, deflate', 'gzip'],
    ['x-gzip', 'gzip'],
    ['br;q=0, gzip', 'gzip'],
    ['BR;Q=0.5', 'br'],
    ['gzip;q=0, br;q=0', 'identity'],
    ['*', 'br'],
    ['deflate', 'identity'],
    ['identity', 'identity'],
  ])('%s → %s', (header, expected) => {
    assert.equal(pickEncoding(header, ALL), expected);
  });

  test('only encodings that are kept are chosen', () => {
    assert.equal(pickEncoding('gzip, br', new Set(['gzip', 'identity'] as const)), 'gzip');
    assert.equal(pickEncoding('br', { identity: Buffer.alloc(0) }), 'identity');
  });
});

describe('represent', () => {
  test('br and gzip decode to the same bytes; tags differ per encoding', async () => {
    const text = '<p>scope</p>\n'.repeat(500);
    const rep = await represent(text, 'text/html');
    assert.equal(zlib.brotliDecompressSync(rep.bodies.br!).toString(), text);
    assert.equal(zlib.gunzipSync(rep.bodies.gzip!).toString(), text);
    assert.equal(rep.bodies.identity.toString(), text);
    assert.equal(new Set(Object.values(rep.etags)).size, 3);
    assert.equal((await represent(text, 'text/html')).etags.br, rep.etags.br, 'stable');
    assert.notEqual((await represent(`${text}!`, 'text/html')).etags.br, rep.etags.br);
  });

  test('tiny or incompressible bodies are kept as they are', async () => {
    assert.deepEqual(Object.keys((await represent('<p>hi</p>', 'text/html')).bodies), ['identity']);
    const png = await represent(Buffer.alloc(4096, 7), 'image/png', false);
    assert.deepEqual(Object.keys(png.bodies), ['identity']);
  });
});

describe('pageCache', () => {
  test('renders once per key when keeping, every time when not', async () => {
    let renders = 0;
    const render = (view: string) => Promise.resolve(`${view} ${++renders}`);
    const kept = pageCache(render, { keep: true });
    const a = await kept.get('k', 'home', {});
    assert.equal(await kept.get('k', 'home', {}), a);
    await kept.get('other', 'home', {});
    assert.equal(renders, 2);
    const fresh = pageCache(render, { keep: false });
    await fresh.get('k', 'home', {});
    await fresh.get('k', 'home', {});
    assert.equal(renders, 4);
  });

  test('past maxEntries, pages are rendered but not kept; a failed render is retried', async () => {
    let renders = 0;
    let fail = true;
    const render = () => {
      renders++;
      return fail ? Promise.reject(new Error('boom')) : Promise.resolve('ok');
    };
    const cache = pageCache(render, { keep: true, maxEntries: 1 });
    await assert.rejects(cache.get('a', 'v', {}));
    fail = false;
    assert.equal((await cache.get('a', 'v', {})).bodies.identity.toString(), 'ok');
    await cache.get('b', 'v', {});
    await cache.get('b', 'v', {});
    assert.equal(renders, 4, 'a: failed then kept; b: over the bound, rendered each time');
  });
});
