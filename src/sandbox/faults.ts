/**
 * How the simulated Webex misbehaves when a fault is switched on (Sandbox.faults), and the
 * error bodies it answers in Webex's shape.
 */
import crypto from 'node:crypto';
import type Koa from 'koa';
import type { PeopleFault, SandboxOptions, TokenFault } from './options';

/** An error body in Webex's shape. */
export function webexError(message: string) {
  return {
    message,
    errors: [{ description: message }],
    trackingId: `SANDBOX_${crypto.randomBytes(6).toString('hex')}`,
  };
}

/**
 * Answers the token endpoint for a switched-on fault; true when the request was handled.
 * `token` mints a token value (the missing_fields fault hands out an access token).
 */
export async function applyTokenFault(
  ctx: Koa.Context,
  fault: TokenFault | undefined,
  options: SandboxOptions,
  token: (kind: string) => string,
): Promise<boolean> {
  switch (fault) {
    case undefined:
      return false;
    case 'http500':
      ctx.status = 500;
      ctx.body = { message: 'Internal server error', trackingId: 'SANDBOX' };
      return true;
    case 'http429':
      ctx.status = 429;
      ctx.set('Retry-After', String(options.retryAfterSeconds ?? 7));
      ctx.body = webexError('Too many requests have been made.');
      return true;
    case 'timeout':
      await new Promise((resolve) => setTimeout(resolve, options.hangMs ?? 3000));
      ctx.status = 504;
      ctx.body = 'late';
      return true;
    case 'html':
      ctx.status = 200;
      ctx.type = 'text/html';
      ctx.body = '<html><body><h1>Service Unavailable</h1></body></html>';
      return true;
    case 'missing_fields':
      ctx.body = { access_token: token('AT'), token_type: 'Bearer' };
      return true;
    case 'reset':
      ctx.req.socket.destroy();
      ctx.respond = false;
      return true;
    case 'invalid_client':
      ctx.status = 401;
      ctx.body = { error: 'invalid_client' };
      return true;
  }
}

/**
 * Applies a people/me fault before the real answer: a timeout holds the request and lets it go
 * on; a rate limit or an outage answers it (true). http403 is left to the scope check, which
 * it fails.
 */
export async function applyPeopleFault(
  ctx: Koa.Context,
  fault: PeopleFault | undefined,
  options: SandboxOptions,
): Promise<boolean> {
  if (fault === 'timeout') {
    await new Promise((resolve) => setTimeout(resolve, options.hangMs ?? 3000));
  }
  if (fault === 'http429') {
    ctx.status = 429;
    ctx.set('Retry-After', String(options.retryAfterSeconds ?? 7));
    ctx.body = webexError('Too many requests have been made.');
    return true;
  }
  if (fault === 'http503') {
    ctx.status = 503;
    ctx.body = webexError('Service unavailable.');
    return true;
  }
  return false;
}
