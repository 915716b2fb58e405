/**
 * Issue 13: no request body can crash the process. Compressed bodies used to go through co-body,
 * whose raw-body dropped its error listener on the decompressor when it gave up (body too large,
 * client gone) while the request stayed piped into it; a truncated or corrupt tail then made
 * zlib emit 'error' with no listener: `uncaughtException: unexpected end of file`, and the
 * process died. These requests run against a real service process, which must answer each one
 * with a 4xx and still be alive and healthy afterwards, with no fatal error logged.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import Koa from 'koa';
import http from 'node:http';
import { readFormBodies } from '../../src/middleware/form-body';
import { spawnService, type ServiceProcess } from '../helpers/process';
import { send } from './support';

const LIMIT = 2048;
const FORM = 'application/x-www-form-urlencoded';

/**
 * Forms that decompress to more than LIMIT bytes from a small compressed body. The sizes matter:
 * the old reader stopped at the first decompressed chunk past the limit, and the crash needed the
 * rest to fit in the decompressor's 16 KiB buffer so that zlib reached the broken end.
 */
const bigForms = [6_000, 20_000, 64 * 1024].map((n) =>
  Buffer.from(`client_id=cli&scope=${'x'.repeat(n)}`),
);
const bigForm = bigForms[2]!;
const compress = {
  gzip: (b: Buffer) => zlib.gzipSync(b),
  deflate: (b: Buffer) => zlib.deflateSync(b),
  br: (b: Buffer) => zlib.brotliCompressSync(b),
};
type Encoding = keyof typeof compress;
const ENCODINGS = Object.keys(compress) as Encoding[];

/** Bodies that each used to be able to leave a decompressor erroring with nobody listening. */
function hostileBodies(encoding: Encoding): { name: string; body: Buffer; status: number[] }[] {
  const small = compress[encoding](Buffer.from('client_id=cli&scope=spark-admin:people_read'));
  return [
    ...bigForms.flatMap((form) => oversized(encoding, form)),
    { name: 'small, truncated', body: small.subarray(0, small.length - 5), status: [400] },
    { name: 'empty', body: Buffer.alloc(0), status: [400] },
    { name: 'not compressed at all', body: Buffer.from('client_id=cli'), status: [400] },
  ];
}

function oversized(encoding: Encoding, form: Buffer) {
  const big = compress[encoding](form);
  return [
    // Where the cut lands decides which is noticed first: the size or the broken stream.
    { name: 'too large, truncated', body: big.subarray(0, big.length - 6), status: [400, 413] },
    {
      name: 'too large, corrupt tail',
      body: Buffer.concat([big.subarray(0, big.length - 12), Buffer.from('garbage-garbage')]),
      status: [400, 413],
    },
    { name: 'too large, complete', body: big, status: [413] },
  ].map((c) => ({ ...c, name: `${c.name} (${form.length} bytes)` }));
}

function rawHead(port: number, encoding: string, length: number): string {
  return (
    `POST /oauth2/device_authorization HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    `Content-Type: ${FORM}\r\nContent-Encoding: ${encoding}\r\nContent-Length: ${length}\r\n\r\n`
  );
}

/** Sends the head and part of a body, then vanishes; resolves once the socket is closed. */
function abortMidBody(port: number, encoding: string, part: Buffer, declared: number) {
  return new Promise<void>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(rawHead(port, encoding, declared));
      socket.write(part, () => socket.destroy());
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

describe('a real service process and hostile compressed bodies', () => {
  let service: ServiceProcess;
  let url = '';
  let port = 0;

  beforeAll(async () => {
    service = await spawnService({
      BODY_LIMIT_BYTES: String(LIMIT),
      SHUTDOWN_GRACE_SECONDS: '2',
    });
    url = service.url;
    port = Number(new URL(url).port);
  });

  afterAll(async () => {
    if (service.exitCode() !== undefined) return;
    service.child.kill('SIGTERM');
    await service.exited;
  });

  const alive = async (what: string) => {
    assert.equal(
      service.exitCode(),
      undefined,
      `the process died after ${what}:\n${service.output()}`,
    );
    const health = await send(`${url}/healthz`);
    assert.equal(health.status, 200, `healthy after ${what}`);
    assert.doesNotMatch(service.output(), /fatal_error|uncaughtException|unexpected end of file/);
  };

  for (const encoding of ENCODINGS) {
    test(`${encoding}: truncated, corrupt, oversized and empty bodies are 4xx answers`, async () => {
      for (const c of hostileBodies(encoding)) {
        const res = await send(`${url}/oauth2/device_authorization`, {
          method: 'POST',
          headers: { 'content-type': FORM, 'content-encoding': encoding },
          body: new Uint8Array(c.body),
        });
        assert.ok(
          c.status.includes(res.status),
          `${encoding} ${c.name}: ${res.status} ${res.body}`,
        );
        assert.equal(typeof (JSON.parse(res.body) as { error?: unknown }).error, 'string');
      }
      await alive(`${encoding} bodies`);
    });

    test(`${encoding}: a client that goes away mid-body does not take the process down`, async () => {
      const big = compress[encoding](bigForm);
      // Part of an oversized body (past the limit once decompressed), then gone.
      await abortMidBody(port, encoding, big.subarray(0, big.length - 6), big.length + 100);
      // A few bytes of a small one, then gone.
      const small = compress[encoding](Buffer.from('client_id=cli'));
      await abortMidBody(port, encoding, small.subarray(0, 4), small.length);
      await alive(`${encoding} aborted bodies`);
    });
  }

  test('a well-formed compressed body still works', async () => {
    for (const encoding of ENCODINGS) {
      const res = await send(`${url}/oauth2/device_authorization`, {
        method: 'POST',
        headers: { 'content-type': FORM, 'content-encoding': encoding },
        body: new Uint8Array(
          compress[encoding](Buffer.from('client_id=cli&scope=spark-admin%3Apeople_read')),
        ),
      });
      assert.equal(res.status, 200, `${encoding}: ${res.body}`);
      assert.match(res.body, /"device_code"/);
    }
    await alive('well-formed bodies');
  });
});

describe('readFormBodies settles on every outcome (no reader left hanging)', () => {
  test('an aborted compressed upload rejects with 400, and nothing is emitted later', async () => {
    const outcomes: string[] = [];
    let settled!: () => void;
    const done = new Promise<void>((r) => (settled = r));
    const app = new Koa();
    app.silent = true; // the socket error of the vanished client is expected here
    app.use(async (ctx, next) => {
      try {
        await next();
        outcomes.push('read');
      } catch (err) {
        outcomes.push(`${(err as { status?: number }).status}: ${(err as Error).message}`);
      }
      settled();
    });
    app.use(readFormBodies(LIMIT));
    app.use((ctx) => (ctx.body = 'ok'));
    const server = http.createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const p = (server.address() as net.AddressInfo).port;
    try {
      const body = zlib.gzipSync(Buffer.from('client_id=cli'));
      await abortMidBody(p, 'gzip', body.subarray(0, 5), body.length);
      await done;
      assert.deepEqual(outcomes, ['400: The request ended before its whole body arrived.']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
