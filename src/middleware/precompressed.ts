/**
 * Bodies that do not depend on the request (the home page, the 404 page, the static files),
 * kept as bytes in each encoding a browser may ask for, compressed once, with a strong ETag.
 * Sending one is a header lookup and a buffer write: no template, no compression per request.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type Koa from 'koa';

export type Encoding = 'br' | 'gzip' | 'identity';

export interface Representation {
  type: string;
  /** The bytes per encoding; an encoding that would not be smaller is left out. */
  bodies: Partial<Record<Encoding, Buffer>> & { identity: Buffer };
  /** A strong ETag per encoding (RFC 9110 §8.8.3: different content codings, different tags). */
  etags: Record<Encoding, string>;
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/** Below this, compression saves less than the headers it needs. */
const MIN_COMPRESSIBLE_BYTES = 256;

/**
 * Compresses once at the highest settings: the cost is paid once per process (or per
 * configuration), and every byte saved is saved on every response.
 */
export async function represent(
  body: Buffer | string,
  type: string,
  compressible = true,
): Promise<Representation> {
  const identity = typeof body === 'string' ? Buffer.from(body) : body;
  const hash = crypto.hash('sha256', identity, 'base64url').slice(0, 22);
  const bodies: Representation['bodies'] = { identity };
  if (compressible && identity.length >= MIN_COMPRESSIBLE_BYTES) {
    const [br, gz] = await Promise.all([
      brotli(identity, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
          [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: identity.length,
        },
      }),
      gzip(identity, { level: zlib.constants.Z_BEST_COMPRESSION }),
    ]);
    if (br.length < identity.length) bodies.br = br;
    if (gz.length < identity.length) bodies.gzip = gz;
  }
  return {
    type,
    bodies,
    etags: { identity: `"${hash}"`, br: `"${hash}-br"`, gzip: `"${hash}-gz"` },
  };
}

/**
 * The encoding to send for an Accept-Encoding header: br, else gzip, else identity (our
 * preference when the client accepts several, as browsers do; a q=0 refuses a coding).
 * Hand-parsed: it runs on every page request, and the header is a short list.
 */
export function pickEncoding(
  acceptEncoding: string | undefined,
  available: ReadonlySet<Encoding> | Partial<Record<Encoding, unknown>>,
): Encoding {
  if (!acceptEncoding) return 'identity';
  const has = (e: Encoding) =>
    available instanceof Set ? available.has(e) : (available as Record<string, unknown>)[e];
  let wildcard = false;
  const accepted = new Set<string>();
  for (const part of acceptEncoding.split(',')) {
    const [rawName, ...params] = part.split(';');
    const name = rawName!.trim().toLowerCase();
    const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)).find(Boolean);
    if (q && Number(q[1]) === 0) continue;
    if (name === '*') wildcard = true;
    else accepted.add(name);
  }
  for (const e of ['br', 'gzip'] as const) {
    if (has(e) && (accepted.has(e) || (e === 'gzip' && accepted.has('x-gzip')) || wildcard))
      return e;
  }
  return 'identity';
}

/** Does If-None-Match name one of this representation's tags (in any encoding), or `*`? */
function matches(ifNoneMatch: string, rep: Representation): boolean {
  if (ifNoneMatch.trim() === '*') return true;
  for (const raw of ifNoneMatch.split(',')) {
    // A weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    const tag = raw.trim().replace(/^W\//, '');
    if (tag === rep.etags.identity || tag === rep.etags.br || tag === rep.etags.gzip) return true;
  }
  return false;
}

/**
 * Answers with the representation: the encoding the client prefers among those kept,
 * `Vary: Accept-Encoding`, the ETag of that encoding, and 304 without a body when the client
 * already holds it (only for 2xx answers, RFC 9110 §13.2.1).
 */
export function sendRepresentation(
  ctx: Koa.Context,
  rep: Representation,
  cacheControl: string,
  status = 200,
): void {
  const encoding = pickEncoding(ctx.get('Accept-Encoding'), rep.bodies);
  const res = ctx.res;
  res.setHeader('Cache-Control', cacheControl);
  res.removeHeader('Pragma');
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('ETag', rep.etags[encoding]);
  const ifNoneMatch = ctx.get('If-None-Match');
  if (status < 300 && ifNoneMatch && matches(ifNoneMatch, rep)) {
    ctx.status = 304;
    return;
  }
  ctx.status = status;
  ctx.type = rep.type;
  if (encoding !== 'identity') res.setHeader('Content-Encoding', encoding);
  ctx.body = rep.bodies[encoding]!;
}
