import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Koa from 'koa';
import { represent, sendRepresentation, type Representation } from './precompressed';

const TYPES: Record<string, { type: string; compressible: boolean }> = {
  '.css': { type: 'text/css; charset=utf-8', compressible: true },
  '.js': { type: 'text/javascript; charset=utf-8', compressible: true },
  '.svg': { type: 'image/svg+xml', compressible: true },
  '.png': { type: 'image/png', compressible: false },
};

/** A hashed name never changes content, so it may be kept for a year without asking again. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The plain names (bookmarks, old pages) change with each release: revalidate often. */
const SHORT = 'public, max-age=300';

export interface StaticAssets {
  /** The URL to reference a file of public/ by (`app.css` → `/static/app.3f2a9c1b0e.css`). */
  url(name: string): string;
  /** Serves both names of every file under /static/; nothing else. */
  middleware: Koa.Middleware;
}

/**
 * The few files in public/, read at startup and named by content (a hash of their bytes in
 * the name), compressed once (brotli and gzip) on first request. Pages reference the hashed
 * names through the views' `asset` local, so a browser fetches each version exactly once.
 */
export function staticAssets(dir: string): StaticAssets {
  const urls = new Map<string, string>();
  const served = new Map<string, { load: () => Promise<Representation>; cache: string }>();
  for (const name of fs.readdirSync(dir)) {
    const ext = path.extname(name);
    const kind = TYPES[ext];
    if (!kind) continue;
    const body = fs.readFileSync(path.join(dir, name));
    const hash = crypto.hash('sha256', body, 'hex').slice(0, 10);
    const hashed = `/static/${path.basename(name, ext)}.${hash}${ext}`;
    let representation: Promise<Representation> | undefined;
    const load = () => (representation ??= represent(body, kind.type, kind.compressible));
    urls.set(name, hashed);
    served.set(hashed, { load, cache: IMMUTABLE });
    served.set(`/static/${name}`, { load, cache: SHORT });
  }
  return {
    url(name) {
      const url = urls.get(name);
      if (!url) throw new Error(`no file ${name} in ${dir}`);
      return url;
    },
    middleware: function serveStatic(ctx, next) {
      const file = ctx.method === 'GET' || ctx.method === 'HEAD' ? served.get(ctx.path) : undefined;
      if (!file) return next();
      return file.load().then((rep) => sendRepresentation(ctx, rep, file.cache));
    },
  };
}
