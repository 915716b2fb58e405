/**
 * Wrong-code limits are counted before the lookup, atomically in the store: a synchronized
 * burst cannot slip under them. Also the per-code and the global budgets.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { USER_CODE_ALPHABET, formatUserCode } from '../../src/crypto';
import { CookieBrowser } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';
import { csrfFor, postForm, send } from './support';

const LIMIT = 10;
const PER_CODE = 4;
const GLOBAL = 40;

let srv: TestServer;
before(async () => {
  srv = await startTestServer({
    env: {
      TRUST_PROXY: 'true',
      RATE_LIMIT_WINDOW_SECONDS: '600',
      RATE_LIMIT_USER_CODE_FAILURES: String(LIMIT),
      RATE_LIMIT_USER_CODE_ENTRIES_PER_CODE: String(PER_CODE),
      RATE_LIMIT_USER_CODE_GLOBAL_FAILURES: String(GLOBAL),
      LOG_LEVEL: 'warn',
      // A thousand requests at once on a busy CI machine: a slow Redis answer is not the subject.
      REDIS_COMMAND_TIMEOUT_MS: '30000',
    },
  });
});
after(() => srv?.close());

let serial = 0;
/** A fresh well-formed code that no handoff holds. */
function wrongCode(): string {
  let n = serial++;
  let code = '';
  for (let i = 0; i < 8; i++) {
    code += USER_CODE_ALPHABET[n % USER_CODE_ALPHABET.length];
    n = Math.floor(n / USER_CODE_ALPHABET.length);
  }
  return formatUserCode(code);
}

async function session(): Promise<{ csrf: string; cookie: string }> {
  const browser = new CookieBrowser();
  const csrf = await csrfFor(browser, srv.url);
  const cookie = [...browser.cookies.entries()]
    .map(([k, v]) => `${k.split('|')[1]}=${v}`)
    .join('; ');
  return { csrf, cookie };
}

function enter(s: { csrf: string; cookie: string }, code: string, ip: string) {
  return send(
    `${srv.url}/device`,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: s.cookie,
        'x-forwarded-for': ip,
        accept: 'text/html',
      },
      body: new URLSearchParams({ csrf: s.csrf, user_code: code }).toString(),
    },
    120_000,
  );
}

const statuses = (list: { status: number }[]) => {
  const out = new Map<number, number>();
  for (const r of list) out.set(r.status, (out.get(r.status) ?? 0) + 1);
  return out;
};

/**
 * A synchronized burst: open every connection first, then write every request in the same
 * tick, so the server reads them all before answering any (plain fetch trickles in as
 * connections open, which on a busy machine is nearly sequential).
 */
async function burst(requests: string[]): Promise<{ status: number }[]> {
  const { hostname, port } = new URL(srv.url);
  const sockets = await Promise.all(
    requests.map(
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(Number(port), hostname, () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  const answers = sockets.map(
    (socket) =>
      new Promise<{ status: number }>((resolve, reject) => {
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.once('error', reject);
        socket.once('close', () => {
          const m = /^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'));
          if (m) resolve({ status: Number(m[1]) });
          else reject(new Error('no HTTP answer'));
        });
      }),
  );
  sockets.forEach((socket, i) => socket.write(requests[i]!));
  return Promise.all(answers);
}

test('1,000 concurrent wrong codes from one address and cookie: at most limit + 2 evaluated', async () => {
  const s = await session();
  const { host } = new URL(srv.url);
  const requests = Array.from({ length: 1000 }, () => {
    const body = new URLSearchParams({ csrf: s.csrf, user_code: wrongCode() }).toString();
    return [
      'POST /device HTTP/1.1',
      `Host: ${host}`,
      'Content-Type: application/x-www-form-urlencoded',
      `Content-Length: ${Buffer.byteLength(body)}`,
      `Cookie: ${s.cookie}`,
      'X-Forwarded-For: 192.0.2.100',
      'Accept: text/html',
      'Connection: close',
      '',
      body,
    ].join('\r\n');
  });
  const answers = await burst(requests);
  const by = statuses(answers);
  const evaluated = by.get(400) ?? 0;
  assert.ok(
    evaluated <= LIMIT + 2,
    `evaluated ${evaluated} wrong codes against a limit of ${LIMIT}`,
  );
  assert.ok(evaluated >= 1, 'some entries were evaluated');
  assert.equal(evaluated + (by.get(429) ?? 0), 1000, `only 400 and 429: ${[...by]}`);
});

test('one code entered from many addresses and browsers: the per-code budget holds', async () => {
  const code = wrongCode();
  const answers = await Promise.all(
    Array.from({ length: 30 }, async (_, i) => enter(await session(), code, `198.51.100.${i + 1}`)),
  );
  const by = statuses(answers);
  assert.equal(by.get(400), PER_CODE, `per-code: ${[...by]}`);
  assert.equal(by.get(429), 30 - PER_CODE);
  const refused = answers.find((a) => a.status === 429)!;
  assert.match(refused.body, /entered too many times/);
});

test('wrong codes from everywhere: the global budget trips once, pauses entry, and counts it', async () => {
  const before = (await srv.metrics.userCodeGlobalBudgetExhausted.get()).values[0]?.value ?? 0;
  // Sequential, from distinct addresses and browsers: only the global budget can stop them.
  const answers: { status: number; body: string }[] = [];
  for (let i = 0; i < GLOBAL + 5; i++) {
    answers.push(await enter(await session(), wrongCode(), `203.0.113.${(i % 250) + 1}`));
  }
  // Earlier tests in this file already spent part of the global budget.
  const refused = answers.filter((a) => a.status === 429);
  assert.ok(refused.length >= 5, `${refused.length} refused`);
  assert.match(refused[0]!.body, /paused for everyone/);
  const after = (await srv.metrics.userCodeGlobalBudgetExhausted.get()).values[0]?.value ?? 0;
  assert.equal(after - before, 1, 'the alert metric counts the trip once');
  assert.ok(
    srv.logs.some((l) => l.includes('"event":"user_code_global_budget_exhausted"')),
    'a warning is logged',
  );
  // A right code is refused too while the budget is used up (that is what pausing means).
  const auth = await postForm(`${srv.url}/oauth2/device_authorization`, {
    client_id: 'cli',
    scope: 'spark-admin:people_read',
  });
  const right = String(JSON.parse(auth.body).user_code);
  assert.equal((await enter(await session(), right, '203.0.113.251')).status, 429);
});
