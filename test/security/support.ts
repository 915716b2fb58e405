/**
 * Small helpers shared by the security tests: raw HTTP over a socket (for bytes fetch refuses
 * to send), header parsing, and a guard that records unhandled rejections.
 */
import net from 'node:net';
import { forms, type CookieBrowser, type Page } from '../helpers/http';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Records every unhandled rejection / uncaught exception while installed. */
export function watchProcess(): { problems: string[]; stop: () => void } {
  const problems: string[] = [];
  const onRejection = (reason: unknown) => problems.push(`unhandledRejection: ${String(reason)}`);
  const onException = (err: Error) => problems.push(`uncaughtException: ${err.message}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    problems,
    stop: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/**
 * Send raw bytes to host:port and read the answer until the server closes or `timeoutMs`
 * passes (which rejects: a hang is a failure). The request should carry `Connection: close`.
 */
export function rawRequest(
  url: string,
  payload: string | Buffer,
  timeoutMs = 5000,
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!m) {
        reject(new Error(`no HTTP status line in answer: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(m[1]), head: text.slice(0, split), body: text.slice(split + 4) });
    });
    socket.write(payload);
  });
}

/** fetch with a deadline, no redirects followed. */
export async function send(
  url: string,
  init: RequestInit = {},
  timeoutMs = 5000,
): Promise<{ status: number; headers: Headers; body: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, {
    redirect: 'manual',
    ...init,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body, ms: performance.now() - t0 };
}

export function postForm(
  url: string,
  form: Record<string, string> | string,
  headers: Record<string, string> = {},
) {
  return send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
  });
}

/** A CSP header as directive → sources. */
export function parseCsp(header: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), sources);
  }
  return out;
}

/** The Set-Cookie lines of a response. */
export function setCookies(headers: Headers): string[] {
  return headers.getSetCookie();
}

/** Open /device in `browser` and return the CSRF token from the code form. */
export async function csrfFor(browser: CookieBrowser, baseUrl: string): Promise<string> {
  const page = await browser.get(`${baseUrl}/device`);
  const form = forms(page.body).find((f) => f.action === '/device');
  if (!form?.fields.csrf) throw new Error(`no csrf on /device (${page.status})`);
  return form.fields.csrf;
}

/** The approval page's hidden fields (csrf, handoff) for a user code. */
export async function approvalFields(
  browser: CookieBrowser,
  baseUrl: string,
  userCode: string,
): Promise<Record<string, string>> {
  const csrf = await csrfFor(browser, baseUrl);
  const page: Page = await browser.post(`${baseUrl}/device`, { csrf, user_code: userCode });
  const form = forms(page.body).find((f) => f.action === '/device/approve');
  if (!form) throw new Error(`no approval form (${page.status}): ${page.body.slice(0, 200)}`);
  return form.fields;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
