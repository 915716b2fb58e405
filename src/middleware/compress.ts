/**
 * On-the-fly compression (koa-compress) for dynamic responses worth it, and only those that
 * carry no secret. BREACH: a compressed response's size leaks whether a guess matches a secret
 * in the same body when an attacker can put text of their choosing next to it (a reflected
 * parameter) and watch sizes. Our secret-bearing pages (CSRF tokens next to a user code from the
 * URL, the tokens page) are exactly that shape, so they must never be compressed.
 *
 * The fact that marks them already exists: security-headers sets `Cache-Control: no-store` on
 * every dynamic response, and a route lifts it only for what may be kept by a cache, i.e. what
 * carries nothing secret or per request. So: no-store, never compressed. A new page is safe by
 * default; a route that wants compression says so by lifting no-store.
 */
import zlib from 'node:zlib';
import compress from 'koa-compress';
import type Koa from 'koa';

/** Below about 1 KB, the bytes saved do not pay for the CPU and the extra header. */
export const COMPRESS_THRESHOLD_BYTES = 1024;

const NO_STORE = /(?:^|,)\s*no-store\s*(?:,|$)/i;

export function mayCompressOnTheFly(cacheControl: string): boolean {
  return !NO_STORE.test(cacheControl);
}

export function compressDynamic(): Koa.Middleware {
  const compressor = compress({
    threshold: COMPRESS_THRESHOLD_BYTES,
    // Fast settings: this runs per response (precompressed answers use the best ones).
    br: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } },
    gzip: { level: 6 },
    deflate: false,
    // Brotli and gzip only, as for the precompressed answers (Node 22+ would offer zstd).
    zstd: false,
  });
  return function compressDynamicResponses(ctx, next) {
    return compressor(ctx, async () => {
      await next();
      if (!mayCompressOnTheFly(ctx.response.get('Cache-Control'))) ctx.compress = false;
    });
  };
}
