import querystring from 'node:querystring';
import coBody from 'co-body';
import type Koa from 'koa';

const FORM_TYPE = 'application/x-www-form-urlencoded';

/** True when the request says its body is a form (media type compared without parameters). */
export function isForm(ctx: Koa.Context): boolean {
  const type = ctx.get('content-type');
  const semi = type.indexOf(';');
  return (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase() === FORM_TYPE;
}

/** Flat form parameters: a name sent more than once is an array, which `single()` refuses. */
function parseForm(text: string): querystring.ParsedUrlQuery {
  return querystring.parse(text);
}

/**
 * Reads application/x-www-form-urlencoded bodies (the only kind any endpoint takes) into
 * ctx.request.body; bodies of other types are left unread and refused by the routes with a clear
 * message. Too large, undecodable or wrongly encoded bodies throw co-body's 4xx errors, which
 * the error handler explains.
 *
 * Parsed with Node's querystring instead of qs: OAuth parameters are flat by definition
 * (RFC 6749 §3.1), so qs's nesting and dot rules only added cost; with type-is's media-type
 * parsing that was about 7 % of a pending poll's CPU (docs/BENCHMARKS.md).
 */
export function formBody(limitBytes: number): Koa.Middleware {
  const options = { limit: limitBytes, qs: { parse: parseForm } };
  return async function readForm(ctx, next) {
    const request = ctx.request as Koa.Request & { body?: unknown };
    if (request.body === undefined) {
      request.body = isForm(ctx) ? await coBody.form(ctx.req, options) : {};
    }
    await next();
  };
}
