/**
 * The service started as dist/main.js starts it, with one hand-written speedup swapped out for
 * the bench's A/B (bench/speedups.ts). Usage: node variant-main.cjs <dist> <variant>, where the
 * variant is `plain-writes` (the Redis store sends each command as it comes, no socket write
 * batching) or `co-body` (form bodies read by co-body with Node's querystring, as before the
 * hand-written reader of src/middleware/form-body.ts). Only the bench runs this.
 */
'use strict';

const path = require('node:path');
const querystring = require('node:querystring');
const coBody = require('co-body');

const [dist, variant] = process.argv.slice(2);
const { startService } = require(path.join(dist, 'service.js'));
const { isForm } = require(path.join(dist, 'middleware', 'form-body.js'));

/** How the service read form bodies before the hand-written reader (commit a356707). */
function coBodyReader(limitBytes) {
  // querystring.parse's second argument is a separator: co-body passes its own options there.
  const options = { limit: limitBytes, qs: { parse: (text) => querystring.parse(text) } };
  return async function readForm(ctx, next) {
    const request = ctx.request;
    if (request.body === undefined) {
      request.body = isForm(ctx) ? await coBody.form(ctx.req, options) : {};
    }
    return next();
  };
}

const overrides =
  variant === 'plain-writes'
    ? { redisBatchWrites: false }
    : variant === 'co-body'
      ? { readFormBodies: coBodyReader }
      : undefined;
if (!overrides) {
  process.stderr.write(`unknown variant "${variant}"\n`);
  process.exit(2);
}

startService(process.env, overrides).then(
  (service) => {
    process.once('SIGTERM', () => {
      service.shutdown().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  },
  (err) => {
    process.stderr.write(`Failed to start: ${err.message}\n`);
    process.exit(1);
  },
);
