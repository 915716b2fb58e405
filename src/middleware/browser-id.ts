import type Koa from 'koa';
import type { AppConfig } from '../config';
import { randomToken } from '../crypto';

/**
 * The browser-binding cookie: a random id that ties a sign-in (state) and the Approve/Deny
 * forms (CSRF) to the browser that started them. HttpOnly, SameSite=Lax, and Secure with
 * the __Host- prefix when the service is served over HTTPS.
 */
function browserCookieName(config: AppConfig): string {
  return config.secure ? '__Host-wst_browser' : 'wst_browser';
}

export function readBrowserId(ctx: Koa.Context, config: AppConfig): string | undefined {
  const value = ctx.cookies.get(browserCookieName(config));
  return value && /^[A-Za-z0-9_-]{32,64}$/.test(value) ? value : undefined;
}

/** The current browser id, creating and setting the cookie when there is none. */
export function ensureBrowserId(ctx: Koa.Context, config: AppConfig): string {
  const existing = readBrowserId(ctx, config);
  if (existing) return existing;
  const id = randomToken(32);
  // Written by hand: koa's cookie helper refuses Secure cookies when TLS ends at a proxy.
  const attrs = [
    `${browserCookieName(config)}=${id}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    'Max-Age=43200',
  ];
  if (config.secure) attrs.push('Secure');
  ctx.append('Set-Cookie', attrs.join('; '));
  return id;
}
