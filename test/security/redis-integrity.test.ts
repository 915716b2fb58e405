/**
 * Redis integrity: someone who can write to Redis (but holds no TOKEN_ENCRYPTION_KEY) cannot
 * route an admin's tokens to a handoff of their own. The two reproductions of issue 17 run
 * against the real service and a real Redis, then a schema-agnostic swap test: values of two
 * keys of one kind are exchanged at each stage of two handoffs, and both are driven to the end.
 * Every answer is a page or an RFC error below 500, and the attacker's device code gets nothing.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { Sealer } from '../../src/crypto';
import { decideAtSandbox, openApproval } from '../helpers/admin';
import { CookieBrowser, forms, type Page } from '../helpers/http';
import { openStored } from '../helpers/records';
import { dumpPrefix } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';
import { DEVICE_GRANT, postForm } from './support';

let srv: TestServer;
let redis: Redis;
let sealer: Sealer;
let prefix: string;

beforeAll(async () => {
  srv = await startTestServer({
    env: {
      DEVICE_POLL_INTERVAL_SECONDS: '1',
      // Swapped indexes make right codes read as wrong ones: keep the limits out of the way.
      RATE_LIMIT_USER_CODE_FAILURES: '1000',
      RATE_LIMIT_USER_CODE_ENTRIES_PER_CODE: '1000',
      RATE_LIMIT_USER_CODE_GLOBAL_FAILURES: '100000',
      RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000',
      RATE_LIMIT_STARTS: '1000',
    },
  });
  redis = new Redis(srv.redis!.url);
  sealer = new Sealer(srv.config.encryptionKeys);
  prefix = srv.redis!.prefix;
});
afterAll(async () => {
  redis?.disconnect();
  await srv?.close();
});

interface Handoff {
  deviceCode: string;
  userCode: string;
  h: string;
}

async function requestHandoff(headers: Record<string, string> = {}): Promise<Handoff> {
  const res = await postForm(
    `${srv.url}/oauth2/device_authorization`,
    { client_id: 'cli', scope: 'spark-admin:people_read' },
    { 'user-agent': 'webex-token/1.0.0 (linux; node 20.0.0)', ...headers },
  );
  assert.equal(res.status, 200, res.body);
  const body = JSON.parse(res.body) as { device_code: string; user_code: string };
  return {
    deviceCode: body.device_code,
    userCode: body.user_code,
    h: sealer.hasher.digest('device_code', body.device_code),
  };
}

const poll = (deviceCode: string) =>
  postForm(`${srv.url}/oauth2/token`, {
    grant_type: DEVICE_GRANT,
    client_id: 'cli',
    device_code: deviceCode,
  });

const ucodeKey = (userCode: string) =>
  `${prefix}ucode:${sealer.hasher.digest('user_code', userCode.replace('-', ''))}`;
const stateOf = (toWebex: Page) => new URL(toWebex.location!).searchParams.get('state')!;
const flowKeyOf = (toWebex: Page) =>
  `${prefix}flow:${sealer.hasher.digest('state', stateOf(toWebex))}`;

/** A record's fields: opened with the key (sealed), or as they are (a build without sealing). */
function readable(key: string, value: string): Record<string, unknown> {
  if (value.startsWith('{')) return JSON.parse(value) as Record<string, unknown>;
  return openStored(srv.config.encryptionKeys, prefix, key, value) as Record<string, unknown>;
}

/** Every issued access token the sandbox made, to look for in the attacker's answers. */
const issuedTokens = () => srv.sandbox.issued.map((t) => t.access_token);

function assertNothingFor(attacker: { status: number; body: string }, what: string): void {
  assert.ok(attacker.status < 500, `${what}: ${attacker.status} ${attacker.body.slice(0, 200)}`);
  assert.doesNotMatch(attacker.body, /access_token/, `${what}: the attacker got tokens`);
  for (const t of issuedTokens()) assert.ok(!attacker.body.includes(t), `${what}: token leaked`);
}

/** The admin approves the handoff a code leads to; returns the redirect to Webex. */
async function startApproval(userCode: string, browser: CookieBrowser): Promise<Page> {
  const { page } = await openApproval(srv.url, userCode, browser);
  const approve = forms(page.body).find((f) => f.action === '/device/approve');
  assert.ok(approve, `approval page for ${userCode}: ${page.status}`);
  return browser.post(`${srv.url}/device/approve`, approve.fields);
}

async function rejections(role: string): Promise<number> {
  const metric = await srv.metrics.storeRecordsRejected.get();
  return metric.values.find((v) => v.labels.role === role)?.value ?? 0;
}

describe('reproduction (a): an edited sign-in record', () => {
  test("rewriting kind and handoff, with the verifier left as it was: the admin's sign-in does not go to the attacker", async () => {
    const job = await requestHandoff();
    const attacker = await requestHandoff();
    const admin = new CookieBrowser();
    const toWebex = await startApproval(job.userCode, admin);
    const flowKey = flowKeyOf(toWebex);
    const genuine = (await redis.get(flowKey))!;
    // The attacker's best shot: the record's own fields (as if readable), pointed elsewhere.
    const fields = readable(flowKey, genuine);
    assert.equal(fields.handoff, job.h, 'the record names the job it approves');
    await redis.set(
      flowKey,
      JSON.stringify({ ...fields, kind: 'device', handoff: attacker.h }),
      'KEEPTTL',
    );
    const before = await rejections('flow');
    const done = await decideAtSandbox(admin, toWebex, 'accept');
    assertNothingFor(await poll(attacker.deviceCode), 'attacker poll');
    assert.equal(done.status, 400, done.body.slice(0, 300));
    assert.match(done.body, /This sign-in cannot be finished/);
    assert.match(done.body, /Start again/);
    assert.equal(await rejections('flow'), before + 1);
    assert.equal(JSON.parse((await poll(job.deviceCode)).body).error, 'authorization_pending');
  });

  test("the attacker's own sealed sign-in record copied over the admin's: refused the same way", async () => {
    const job = await requestHandoff();
    const attacker = await requestHandoff();
    const admin = new CookieBrowser();
    const toWebex = await startApproval(job.userCode, admin);
    // The attacker starts approving their own handoff and copies that record over the admin's.
    const own = await startApproval(attacker.userCode, new CookieBrowser());
    await redis.set(flowKeyOf(toWebex), (await redis.get(flowKeyOf(own)))!, 'KEEPTTL');
    const done = await decideAtSandbox(admin, toWebex, 'accept');
    assert.equal(done.status, 400, done.body.slice(0, 300));
    assert.match(done.body, /Start again/);
    assertNothingFor(await poll(attacker.deviceCode), 'attacker poll');
  });
});

describe("reproduction (b): a job's user-code index pointed at the attacker's handoff", () => {
  const variants: [string, (attacker: Handoff) => Promise<string>][] = [
    ["the attacker's handoff id in clear", async (a) => a.h],
    [
      "the attacker's own sealed index value",
      async (a) => (await redis.get(ucodeKey(a.userCode)))!,
    ],
  ];
  for (const [what, forged] of variants) {
    test(`${what}: the admin is told the code is not valid, and the approval never reaches the attacker`, async () => {
      const ua = { 'user-agent': 'webex-token/1.0.0 (linux; node 20.0.0; GITHUB_RUN_ID=77)' };
      const job = await requestHandoff(ua);
      // Same address (loopback) and user agent: the approval page could not tell them apart.
      const attacker = await requestHandoff(ua);
      await redis.set(ucodeKey(job.userCode), await forged(attacker), 'KEEPTTL');
      const before = await rejections('ucode');
      const logsBefore = srv.logs.filter((l) => l.includes('store_record_rejected')).length;

      const admin = new CookieBrowser();
      for (let i = 0; i < 2; i++) {
        const { page } = await openApproval(srv.url, job.userCode, admin);
        assert.equal(page.status, 400, page.body.slice(0, 300));
        assert.match(page.body, /That code is not valid/);
        assert.ok(!forms(page.body).some((f) => f.action === '/device/approve'));
      }
      assert.equal(await rejections('ucode'), before + 2, 'counted every time');
      const warned = srv.logs.filter((l) => l.includes('store_record_rejected'));
      assert.equal(warned.length, logsBefore + 1, 'logged once');
      assert.match(warned.at(-1)!, /"level":40/);
      assert.doesNotMatch(warned.at(-1)!, new RegExp(`${attacker.h}|${job.h}`));

      // The attacker, approving by their own code, gets nothing of the admin's either.
      assertNothingFor(await poll(attacker.deviceCode), 'attacker poll');
      assert.equal(JSON.parse((await poll(job.deviceCode)).body).error, 'authorization_pending');
    });
  }
});

describe('schema-agnostic swap: two keys of one kind exchange values', () => {
  type Stage = 'before-entry' | 'at-sign-in' | 'after-approval';
  const stages: Stage[] = ['before-entry', 'at-sign-in', 'after-approval'];
  let trials = 0;

  /** Keys created since `known`, grouped by kind (the first segment after the prefix). */
  async function freshByKind(known: Set<string>): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const key of (await dumpPrefix(srv.redis!.url, prefix)).keys()) {
      if (known.has(key)) continue;
      const rest = key.slice(prefix.length);
      const kind = rest.slice(0, rest.indexOf(':'));
      out.set(kind, [...(out.get(kind) ?? []), key]);
    }
    for (const [k, keys] of out) if (keys.length !== 2) out.delete(k);
    return out;
  }

  async function swap(a: string, b: string): Promise<void> {
    const [va, vb] = await Promise.all([redis.get(a), redis.get(b)]);
    assert.ok(va !== null && vb !== null);
    await redis.set(a, vb, 'KEEPTTL');
    await redis.set(b, va, 'KEEPTTL');
  }

  /** One trial; `pick` chooses the kind (by index, or 'all'); false when there is no such kind. */
  async function trial(stage: Stage, pick: number | 'all'): Promise<boolean> {
    const known = new Set((await dumpPrefix(srv.redis!.url, prefix)).keys());
    const job = await requestHandoff();
    const attacker = await requestHandoff();
    const answers: { what: string; status: number; body: string }[] = [];
    const seen = <P extends { status: number; body: string }>(what: string, page: P): P => {
      answers.push({ what, status: page.status, body: page.body });
      return page;
    };
    let swapped = false;
    const maybeSwap = async (at: Stage) => {
      if (at !== stage) return;
      const kinds = [...(await freshByKind(known)).entries()].sort(([x], [y]) =>
        x.localeCompare(y),
      );
      const chosen = pick === 'all' ? kinds : kinds.slice(pick, pick + 1);
      for (const [, [a, b]] of chosen) await swap(a!, b!);
      swapped = chosen.length > 0;
    };

    await maybeSwap('before-entry');
    if (!swapped && stage === 'before-entry') return false;
    // The admin approves whatever the job's code leads to; the attacker starts approving their
    // own request in their own browser, then declines at Webex (they never sign in).
    const admin = new CookieBrowser();
    const other = new CookieBrowser();
    const toWebex: (Page | null)[] = [];
    for (const [code, browser] of [
      [job.userCode, admin],
      [attacker.userCode, other],
    ] as const) {
      const { page } = await openApproval(srv.url, code, browser);
      seen('code entry', page);
      const approve = forms(page.body).find((f) => f.action === '/device/approve');
      toWebex.push(
        approve
          ? seen('approve', await browser.post(`${srv.url}/device/approve`, approve.fields))
          : null,
      );
    }
    await maybeSwap('at-sign-in');
    if (!swapped && stage === 'at-sign-in') return false;
    if (toWebex[0]?.location)
      seen('admin callback', await decideAtSandbox(admin, toWebex[0], 'accept'));
    if (toWebex[1]?.location)
      seen('attacker callback', await decideAtSandbox(other, toWebex[1], 'decline'));
    await maybeSwap('after-approval');
    if (!swapped) return false;

    seen('job poll', await poll(job.deviceCode));
    const attackerPoll = seen('attacker poll', await poll(attacker.deviceCode));
    trials++;
    const label = `${stage}, ${pick === 'all' ? 'every kind' : `kind #${pick}`}`;
    for (const a of answers) {
      assert.ok(
        a.status < 500,
        `${label}: ${a.what} answered ${a.status}: ${a.body.slice(0, 300)}`,
      );
      assert.doesNotMatch(a.body, /An unexpected error happened/, `${label}: ${a.what}`);
    }
    assertNothingFor(attackerPoll, label);
    return true;
  }

  for (const stage of stages) {
    test(`swaps ${stage}: never a 5xx, never tokens for the attacker`, async () => {
      for (let pick = 0; await trial(stage, pick); pick++);
      assert.ok(await trial(stage, 'all'), `${stage}: something to swap`);
      assert.ok(await trial(stage, 'all'), `${stage}: again`);
    });
  }

  test('enough trials ran', () => {
    assert.ok(trials >= 12, `${trials} trials`);
    assert.ok(!srv.logs.some((l) => l.includes('request failed')), 'no 500 was logged');
  });
});
