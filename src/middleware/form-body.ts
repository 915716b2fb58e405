import type { IncomingMessage } from 'node:http';
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

/** An error the error handler turns into a 4xx answer (it reads `status`, as for co-body's). */
function bodyError(status: 400 | 413, message: string): Error {
  return Object.assign(new Error(message), { status, expose: true });
}

/**
 * An uncompressed body as UTF-8 text, refused past `limit` bytes. Every script sends these, so
 * they skip co-body's general machinery (decompression, charset decoders, option cloning).
 */
function readPlainBody(req: IncomingMessage, limit: number): Promise<string> {
  if (Number(req.headers['content-length']) > limit) {
    return Promise.reject(bodyError(413, 'request entity too large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else
        resolve(
          chunks.length === 1
            ? chunks[0]!.toString('utf8')
            : Buffer.concat(chunks).toString('utf8'),
        );
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(bodyError(413, 'request entity too large'));
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = () => finish(bodyError(400, 'request body could not be read'));
    // Closed before its end: the client went away mid-body.
    const onClose = () => finish(bodyError(400, 'request aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Reads application/x-www-form-urlencoded bodies (the only kind any endpoint takes) into
 * ctx.request.body; bodies of other types are left unread and refused by the routes with a clear
 * message. Too large, undecodable or wrongly encoded bodies throw co-body's 4xx errors, which
 * the error handler explains.
 *
 * Parsed with Node's querystring instead of qs: OAuth parameters are flat by definition
 * (RFC 6749 §3.1), so qs's nesting and dot rules only added cost, and with type-is's media-type
 * parsing they were a visible share of every pending poll's CPU (figures in docs/BENCHMARKS.md).
 */
export function formBody(limitBytes: number): Koa.Middleware {
  const options = { limit: limitBytes, qs: { parse: parseForm } };
  return function readForm(ctx, next) {
    const request = ctx.request as Koa.Request & { body?: unknown };
    if (request.body !== undefined) return next();
    if (!isForm(ctx)) {
      request.body = {};
      return next();
    }
    const read =
      (ctx.get('content-encoding') || 'identity').toLowerCase() === 'identity'
        ? readPlainBody(ctx.req, limitBytes).then(parseForm)
        : coBody.form(ctx.req, options);
    return read.then((body: unknown) => {
      request.body = body;
      return next();
    });
  };
}
