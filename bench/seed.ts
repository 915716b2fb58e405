/**
 * The seed app (bench/seed-app, the Express app this project grew from) as its own process,
 * and what a browser's first view of a home page costs on the wire: the HTML (after
 * redirects) and the stylesheets and scripts it references, as sent with a browser's
 * Accept-Encoding.
 */
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { freePort } from '../test/helpers/redis';
import { spawnChild, waitFor200, type Child } from './lib';

/** What Chromium sends. */
export const BROWSER_ACCEPT_ENCODING = 'gzip, deflate, br, zstd';

/** The seed serves its home page at /index.html (its / only redirects there). */
export const SEED_HOME = '/index.html';

export async function startSeed(): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const dir = path.join(__dirname, 'seed-app');
  const child = spawnChild(
    process.execPath,
    [path.join(dir, 'launch.cjs')],
    {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(port),
      // Fake: the pages measured never use them (the seed's own defaults are not kept here).
      CLIENT_ID: 'bench-seed-client',
      CLIENT_SECRET: 'bench-seed-secret',
      DEBUG: '',
    },
    { cwd: dir },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}${SEED_HOME}`, 15_000, 20, child);
  return { child, url };
}

interface Fetched {
  status: number;
  location?: string;
  encoding?: string;
  /** Body bytes as sent (compressed when it was). */
  bodyBytes: number;
  headerBytes: number;
  text: string;
}

function get(url: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { headers: { 'accept-encoding': BROWSER_ACCEPT_ENCODING, accept: 'text/html,*/*' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const encoding = res.headers['content-encoding'];
          const plain =
            encoding === 'br'
              ? zlib.brotliDecompressSync(body)
              : encoding === 'gzip'
                ? zlib.gunzipSync(body)
                : body;
          // Status line and header lines as HTTP/1.1 writes them.
          let headerBytes = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n\r\n`.length;
          for (let i = 0; i < res.rawHeaders.length; i += 2)
            headerBytes += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`.length;
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            encoding,
            bodyBytes: body.length,
            headerBytes,
            text: plain.toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
  });
}

export interface FirstView {
  /** Each response: path, encoding, body bytes as sent. */
  parts: { path: string; encoding: string; bytes: number }[];
  bodyBytes: number;
  headerBytes: number;
}

/** GET `path` (following redirects), then every stylesheet and script the page names. */
export async function firstView(base: string, start: string): Promise<FirstView> {
  const out: FirstView = { parts: [], bodyBytes: 0, headerBytes: 0 };
  const add = (p: string, f: Fetched) => {
    if (f.status >= 400) throw new Error(`${base}${p} answered ${f.status}`);
    out.parts.push({ path: p, encoding: f.encoding ?? 'identity', bytes: f.bodyBytes });
    out.bodyBytes += f.bodyBytes;
    out.headerBytes += f.headerBytes;
  };
  let where = new URL(start, base);
  let page = await get(where.href);
  add(where.pathname, page);
  for (let hops = 0; page.location && hops < 5; hops++) {
    where = new URL(page.location, where);
    page = await get(where.href);
    add(where.pathname, page);
  }
  const refs = [
    ...page.text.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*>/g),
    ...page.text.matchAll(/<script\b[^>]*\bsrc="[^"]+"[^>]*>/g),
  ]
    .map((m) => /\b(?:href|src)="([^"]+)"/.exec(m[0])?.[1])
    .filter((r): r is string => Boolean(r));
  for (const ref of new Set(refs)) {
    const url = new URL(ref.replace(/&amp;/g, '&'), where);
    add(url.pathname, await get(url.href));
  }
  return out;
}
