import type Koa from 'koa';
import { invalidClient, invalidRequest } from '../errors';
import { isForm } from '../middleware/form-body';

/** The parsed form body, or an empty object when there is none. */
export function formBody(ctx: Koa.Context): Record<string, unknown> {
  const body = (ctx.request as unknown as { body?: unknown }).body;
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

/**
 * One string parameter. RFC 6749 §3.1: a parameter sent more than once (or as a nested
 * structure) is an invalid request, not something to guess about.
 */
export function single(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw invalidRequest(`The parameter "${name}" must be sent once, as a plain value.`);
  }
  return value;
}

/** Require a form-encoded POST, as RFC 6749 §3.2 and RFC 8628 §3.1 do. */
export function requireForm(ctx: Koa.Context): Record<string, unknown> {
  if (!isForm(ctx)) {
    throw invalidRequest(
      'Send the parameters as application/x-www-form-urlencoded in a POST body.',
    );
  }
  return formBody(ctx);
}

/** Client credentials from HTTP Basic (RFC 6749 §2.3.1) or the form body, never both. */
export function clientCredentials(ctx: Koa.Context, params: Record<string, unknown>) {
  const header = ctx.get('authorization');
  const bodyId = single(params, 'client_id');
  const bodySecret = single(params, 'client_secret');
  if (header) {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!m) {
      throw invalidClient(
        'Unsupported Authorization header: use HTTP Basic with the client id and secret.',
        { basic: true },
      );
    }
    if (bodySecret !== undefined) {
      throw invalidRequest('Authenticate with HTTP Basic or client_secret, not both.');
    }
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    const id = decode(colon < 0 ? decoded : decoded.slice(0, colon));
    const secret = colon < 0 ? '' : decode(decoded.slice(colon + 1));
    if (bodyId !== undefined && bodyId !== id) {
      throw invalidRequest(
        'client_id in the body differs from the one in the Authorization header.',
      );
    }
    return { clientId: id, clientSecret: secret, authenticated: true };
  }
  return { clientId: bodyId, clientSecret: bodySecret, authenticated: bodySecret !== undefined };
}
