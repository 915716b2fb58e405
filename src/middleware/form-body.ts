import type { IncomingMessage } from 'node:http';
import querystring from 'node:querystring';
import zlib from 'node:zlib';
import type Koa from 'koa';
import { HttpError } from '../errors';

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

type BodyProblem = 'too_large' | 'aborted' | 'unreadable' | 'encoding' | 'undecodable';

const BODY_PROBLEMS: Record<
  BodyProblem,
  { status: 400 | 413 | 415; message: string; hint: string }
> = {
  too_large: {
    status: 413,
    message: 'The request body is larger than this service accepts.',
    hint: 'Send only the documented parameters.',
  },
  aborted: {
    status: 400,
    message: 'The request ended before its whole body arrived.',
    hint: 'Send the request again.',
  },
  unreadable: {
    status: 400,
    message: 'The request body could not be read.',
    hint: 'Send the request again.',
  },
  encoding: {
    status: 415,
    message: 'The request body uses a Content-Encoding this service does not read.',
    hint: 'Send the body uncompressed, or compressed with gzip, deflate or br.',
  },
  undecodable: {
    status: 400,
    message: 'The request body could not be decompressed: it does not match its Content-Encoding.',
    hint: 'Send the body uncompressed, or with a matching Content-Encoding.',
  },
};

/** A body that cannot be read: a 4xx answer explained to whoever sent it. */
function bodyError(problem: BodyProblem, cause?: unknown): HttpError {
  const { status, message, hint } = BODY_PROBLEMS[problem];
  return new HttpError(status, 'invalid_request', message, { hint, cause });
}

/**
 * An uncompressed body as UTF-8 text, refused past `limit` bytes. Every script sends these, so
 * they skip co-body's general machinery (decompression, charset decoders, option cloning).
 */
function readPlainBody(req: IncomingMessage, limit: number): Promise<string> {
  if (Number(req.headers['content-length']) > limit) {
    return Promise.reject(bodyError('too_large'));
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
      if (size > limit) finish(bodyError('too_large'));
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = () => finish(bodyError('unreadable'));
    // Closed before its end: the client went away mid-body.
    const onClose = () => finish(bodyError('aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** A decompressor for a Content-Encoding, or undefined for one this service does not take. */
function decompressorFor(encoding: string): zlib.Gunzip | zlib.BrotliDecompress | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
    case 'deflate':
      return zlib.createUnzip();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * A gzip, deflate or brotli body, decompressed, as UTF-8 text, refused once more than `limit`
 * bytes come out (a small compressed body can inflate to gigabytes).
 *
 * This replaces co-body (raw-body over inflation), which crashed the process: when raw-body gave
 * up on the decompressor (too large, or the client went away) it removed its 'error' listener
 * but left the request piped into it, so a truncated or corrupt tail arriving afterwards made
 * zlib emit 'error' with no listener, an uncaughtException ("unexpected end of file"). Here the
 * decompressor keeps an error listener for its whole life, is unpiped and destroyed the moment
 * the outcome is known, and an aborted request destroys it instead of leaving it waiting.
 */
function readCompressedBody(
  req: IncomingMessage,
  encoding: string,
  limit: number,
): Promise<string> {
  const inflate = decompressorFor(encoding);
  if (!inflate) {
    // Drain what the client sends so the 415 answer can be written on a healthy connection.
    req.resume();
    return Promise.reject(bodyError('encoding'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      req.off('aborted', onAborted);
      req.off('close', onClose);
      req.off('error', onReqError);
      if (err) {
        // Stop decompressing: nothing more is read from the decompressor, so no late error can
        // surface; the rest of the request is drained so the 4xx answer still reaches the client.
        req.unpipe(inflate);
        inflate.destroy();
        req.resume();
        reject(err);
      } else {
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    };
    const onAborted = () => finish(bodyError('aborted'));
    const onClose = () => {
      if (!req.complete) finish(bodyError('aborted'));
    };
    const onReqError = () => finish(bodyError('unreadable'));
    // Kept for the decompressor's whole life, also after `finish`: a zlib stream that emits
    // 'error' without a listener takes the process down.
    inflate.on('error', (err) => finish(bodyError('undecodable', err)));
    inflate.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) finish(bodyError('too_large'));
      else chunks.push(chunk);
    });
    inflate.on('end', () => finish());
    req.on('aborted', onAborted);
    req.on('close', onClose);
    req.on('error', onReqError);
    req.pipe(inflate);
  });
}

/**
 * Reads application/x-www-form-urlencoded bodies (the only kind any endpoint takes) into
 * ctx.request.body; bodies of other types are left unread and refused by the routes with a clear
 * message. Too large, aborted, undecodable or wrongly encoded bodies throw an HttpError (4xx)
 * that says which.
 *
 * Parsed with Node's querystring instead of qs: OAuth parameters are flat by definition
 * (RFC 6749 §3.1), so qs's nesting and dot rules only added cost, and with type-is's media-type
 * parsing they were a visible share of every pending poll's CPU (figures in docs/BENCHMARKS.md).
 */
export function readFormBodies(limitBytes: number): Koa.Middleware {
  return function readForm(ctx, next) {
    const request = ctx.request as Koa.Request & { body?: unknown };
    if (request.body !== undefined) return next();
    if (!isForm(ctx)) {
      request.body = {};
      return next();
    }
    const encoding = (ctx.get('content-encoding') || 'identity').trim().toLowerCase();
    const read =
      encoding === 'identity'
        ? readPlainBody(ctx.req, limitBytes)
        : readCompressedBody(ctx.req, encoding, limitBytes);
    return read.then(parseForm).then((body: unknown) => {
      request.body = body;
      return next();
    });
  };
}
