/**
 * A tiny browser for tests: fetch with a cookie jar and manual redirects, so every hop of
 * an OAuth dance can be inspected.
 */
export interface Page {
  status: number;
  headers: Headers;
  body: string;
  url: string;
  location: string | null;
}

export class CookieBrowser {
  readonly cookies = new Map<string, string>();
  /** Every URL this browser requested, in order. */
  readonly visited: string[] = [];

  async get(url: string, headers: Record<string, string> = {}): Promise<Page> {
    return this.request(url, { method: 'GET', headers });
  }

  async post(
    url: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<Page> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** Follow redirects from `page` until a non-redirect answer (at most 10 hops). */
  async follow(page: Page): Promise<Page> {
    let current = page;
    for (let i = 0; i < 10 && current.location; i++) {
      current = await this.get(new URL(current.location, current.url).toString());
    }
    return current;
  }

  async request(
    url: string,
    init: RequestInit & { headers?: Record<string, string> },
  ): Promise<Page> {
    this.visited.push(url);
    const host = new URL(url).host;
    const jar = [...this.cookies.entries()]
      .filter(([k]) => k.startsWith(`${host}|`))
      .map(([k, v]) => `${k.slice(host.length + 1)}=${v}`)
      .join('; ');
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { accept: 'text/html', ...(jar ? { cookie: jar } : {}), ...init.headers },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(`${host}|${pair!.slice(0, eq).trim()}`, pair!.slice(eq + 1).trim());
    }
    return {
      status: res.status,
      headers: res.headers,
      body: await res.text(),
      url,
      location: res.headers.get('location'),
    };
  }

  clearCookies(): void {
    this.cookies.clear();
  }
}

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&quot;': '"',
  '&lt;': '<',
  '&gt;': '>',
  '&#39;': "'",
};

export function decodeEntities(text: string): string {
  return text.replace(/&(amp|quot|lt|gt|#39);/g, (m) => ENTITIES[m] ?? m);
}

/** Hidden and named inputs of the forms in a page: name → value (last wins). */
export function formFields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"[^>]*>/g)) {
    out[decodeEntities(m[1]!)] = decodeEntities(m[2]!);
  }
  return out;
}

/** The forms of a page with their action and hidden fields. */
export function forms(html: string): { action: string; fields: Record<string, string> }[] {
  return [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)].map((m) => ({
    action: decodeEntities(m[1]!),
    fields: formFields(m[2]!),
  }));
}

/** An HTTP Basic header for client credentials, form-encoded first as RFC 6749 §2.3.1 says. */
export function basicAuth(id: string, secret: string): string {
  const pair = `${encodeURIComponent(id)}:${encodeURIComponent(secret)}`;
  return `Basic ${Buffer.from(pair).toString('base64')}`;
}
