/**
 * Sealing at rest: tampered ciphertext in Redis is refused and the request fails closed
 * (a clear 4xx, the entry gone, a warning without values, never a 500 loop); key rotation
 * opens old values and seals with the new key; secret comparison is safe for unequal
 * lengths; startup refuses a missing, malformed or short TOKEN_ENCRYPTION_KEY.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { withTestContext } from '../helpers/jest-context';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../src/config';
import {
  SealError,
  Sealer,
  USER_CODE_ALPHABET,
  generateUserCode,
  normalizeUserCode,
  pkceChallenge,
  randomToken,
  safeEqual,
} from '../../src/crypto';
import { approveHandoff, decideAtSandbox } from '../helpers/admin';
import { CookieBrowser } from '../helpers/http';
import { openStored } from '../helpers/records';
import { dumpPrefix, uniquePrefix } from '../helpers/redis';
import {
  TEST_KEY,
  startSandbox,
  startTestServer,
  type RunningSandbox,
  type TestServer,
} from '../helpers/server';
import { DEVICE_GRANT, postForm } from './support';
import { pollIntervalPassed } from '../helpers/time';

const KEY_A = TEST_KEY;
const KEY_B = crypto.randomBytes(32).toString('base64');
/** Both servers hash with the last key of their list: KEY_A. */
const hasher = new Sealer([Buffer.from(KEY_A, 'base64')]).hasher;
const keyId = (b64: string) =>
  crypto.createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex').slice(0, 8);

let sandbox: RunningSandbox;
let a: TestServer; // seals with A
let b: TestServer; // "B,A": seals with B, opens both
let redis: Redis;
const prefix = uniquePrefix('crypto');

beforeAll(async () => {
  sandbox = await startSandbox();
  const env = { DEVICE_POLL_INTERVAL_SECONDS: '1' };
  a = await startTestServer({
    env: { ...env, TOKEN_ENCRYPTION_KEY: KEY_A },
    sandbox,
    redisPrefix: prefix,
  });
  b = await startTestServer({
    env: { ...env, TOKEN_ENCRYPTION_KEY: `${KEY_B},${KEY_A}` },
    sandbox,
    redisPrefix: prefix,
  });
  redis = new Redis(a.redis!.url);
});
afterAll(async () => {
  redis?.disconnect();
  await a?.close();
  await b?.close();
  if (a?.redis) await dumpPrefix(a.redis.url, prefix, { remove: true });
  await sandbox?.close();
});

/** A handoff approved through `s`; returns its device code and the Redis key of its sealed result. */
async function approved(s: TestServer): Promise<{ deviceCode: string; resultKey: string }> {
  const auth = await postForm(`${s.url}/oauth2/device_authorization`, {
    client_id: 'cli',
    scope: 'spark-admin:people_read',
  });
  const { device_code, user_code } = JSON.parse(auth.body) as Record<string, string>;
  const done = await approveHandoff(s.url, user_code!);
  assert.equal(done.status, 200, done.body.slice(0, 300));
  return {
    deviceCode: device_code!,
    resultKey: `${prefix}result:{${hasher.digest('device_code', device_code!)}}`,
  };
}

const poll = (s: TestServer, deviceCode: string) =>
  postForm(`${s.url}/oauth2/token`, {
    grant_type: DEVICE_GRANT,
    client_id: 'cli',
    device_code: deviceCode,
  });

/** Replace a stored value, keeping its TTL. */
async function rewrite(key: string, change: (sealed: string) => string): Promise<string> {
  const sealed = await redis.get(key);
  assert.ok(sealed, `no value at ${key}`);
  const changed = change(sealed);
  assert.notEqual(changed, sealed);
  await redis.set(key, changed, 'KEEPTTL');
  return sealed;
}

function flipChar(part: string, at = Math.floor(part.length / 2)): string {
  const c = part[at]!;
  return part.slice(0, at) + (c === 'A' ? 'B' : 'A') + part.slice(at + 1);
}
const editPart = (i: number, f: (p: string) => string) => (sealed: string) => {
  const parts = sealed.split('.');
  parts[i] = f(parts[i]!);
  return parts.join('.');
};

describe('tampered ciphertext fails closed', () => {
  const tamperings: [string, (sealed: string) => string][] = [
    ['a flipped ciphertext byte', editPart(3, (p) => flipChar(p))],
    ['a flipped tag byte', editPart(4, (p) => flipChar(p, 2))],
    ['an unknown key id', editPart(1, () => 'deadbeef')],
    ['a truncated value', (s) => s.split('.').slice(0, 4).join('.')],
    [
      'plain JSON instead of a sealed value',
      () =>
        JSON.stringify({
          access_token: 'INJECTED',
          refresh_token: 'INJECTED',
          expires_in: 1,
          refresh_token_expires_in: 1,
        }),
    ],
  ];
  for (const [what, tamper] of tamperings) {
    test(`poll with ${what} in the stored result: 400 invalid_grant, no tokens, entry gone, no 500 after`, async () => {
      const { deviceCode, resultKey } = await approved(a);
      const original = await rewrite(resultKey, tamper);
      await pollIntervalPassed();
      const first = await poll(a, deviceCode);
      assert.equal(first.status, 400, first.body);
      const body = JSON.parse(first.body) as Record<string, string>;
      assert.equal(body.error, 'invalid_grant');
      assert.equal(body.access_token, undefined);
      assert.doesNotMatch(first.body, /INJECTED|SBX_/);
      assert.equal(await redis.exists(resultKey), 0, 'the refused value is not kept');
      await pollIntervalPassed();
      const again = await poll(a, deviceCode);
      assert.equal(again.status, 400, again.body);
      assert.equal(JSON.parse(again.body).error, 'invalid_grant');
      const warning = a.logs.find((l) => l.includes('sealed_value_rejected'));
      assert.ok(warning, 'a warning is logged');
      assert.match(warning, /"level":40/);
      for (const part of original.split('.').slice(2))
        assert.ok(!a.logs.some((l) => l.includes(part)), 'no sealed material in logs');
      assert.ok(!a.logs.some((l) => l.includes('request failed')), 'not a 500');
    });
  }

  test("a result sealed for one handoff cannot be replayed as another's (AAD binds the key)", async () => {
    const x = await approved(a);
    const y = await approved(a);
    const xSealed = (await redis.get(x.resultKey))!;
    await rewrite(y.resultKey, () => xSealed);
    await pollIntervalPassed();
    const res = await poll(a, y.deviceCode);
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.body).error, 'invalid_grant');
    const ok = await poll(a, x.deviceCode);
    assert.equal(ok.status, 200, 'the genuine owner still gets its tokens');
  });

  test('a tampered sign-in record (its PKCE verifier inside): clear 400 page, Webex never called', async () => {
    const browser = new CookieBrowser();
    const start = await browser.get(`${a.url}/start?scope=spark-admin:people_read`);
    const state = new URL(start.location!).searchParams.get('state')!;
    const flowKey = `${prefix}flow:${hasher.digest('state', state)}`;
    const sealedRecord = (await redis.get(flowKey))!;
    // The whole record is sealed, and the verifier inside it opens to the one behind the
    // code_challenge sent to Webex.
    assert.match(sealedRecord, /^v1\./);
    const record = openStored([Buffer.from(KEY_A, 'base64')], prefix, flowKey, sealedRecord) as {
      verifier: string;
    };
    const verifier = new Sealer([Buffer.from(KEY_A, 'base64')]).open(
      record.verifier,
      `flow:${hasher.digest('state', state)}`,
    );
    assert.equal(
      pkceChallenge(verifier),
      new URL(start.location!).searchParams.get('code_challenge'),
    );
    await rewrite(
      flowKey,
      editPart(3, (p) => flipChar(p)),
    );
    const tokenCalls = sandbox.sandbox.calls.token;
    const page = await decideAtSandbox(browser, start, 'accept');
    assert.equal(page.status, 400, page.body.slice(0, 300));
    assert.match(page.body, /This sign-in cannot be finished/);
    assert.match(page.body, /Start again/);
    assert.equal(
      sandbox.sandbox.calls.token,
      tokenCalls,
      'no code exchange with a record that failed authentication',
    );
    assert.doesNotMatch(page.body, /SBX_/);
  });
});

describe('key rotation', () => {
  test('Sealer: the first key seals, every key opens, a removed key no longer opens', () => {
    const oldKey = Buffer.from(KEY_A, 'base64');
    const newKey = Buffer.from(KEY_B, 'base64');
    const sealedOld = new Sealer([oldKey]).seal('secret', 'ctx');
    const rotated = new Sealer([newKey, oldKey]);
    assert.equal(rotated.open(sealedOld, 'ctx'), 'secret');
    const sealedNew = rotated.seal('secret', 'ctx');
    assert.equal(sealedNew.split('.')[1], keyId(KEY_B));
    assert.equal(new Sealer([newKey]).open(sealedNew, 'ctx'), 'secret');
    assert.throws(() => new Sealer([newKey]).open(sealedOld, 'ctx'), SealError);
    assert.throws(() => rotated.open(sealedNew, 'other-ctx'), SealError);
    assert.notEqual(rotated.seal('secret', 'ctx'), sealedNew, 'a fresh IV every time');
    assert.ok(
      !sealedNew.includes('secret') &&
        !sealedNew.includes(Buffer.from('secret').toString('base64url')),
    );
  });

  test('TOKEN_ENCRYPTION_KEY="new,old": a replica with it delivers values sealed with old, and seals with new', async () => {
    const oldSealed = await approved(a);
    assert.equal((await redis.get(oldSealed.resultKey))!.split('.')[1], keyId(KEY_A));
    await pollIntervalPassed();
    const delivered = await poll(b, oldSealed.deviceCode);
    assert.equal(delivered.status, 200, delivered.body);
    assert.match(String(JSON.parse(delivered.body).access_token), /^SBX_AT_/);

    const newSealed = await approved(b);
    assert.equal(
      (await redis.get(newSealed.resultKey))!.split('.')[1],
      keyId(KEY_B),
      'sealed with the new key',
    );
    await pollIntervalPassed();
    // A replica that only has the old key cannot open it: it fails closed.
    const refused = await poll(a, newSealed.deviceCode);
    assert.equal(refused.status, 400);
    assert.equal(JSON.parse(refused.body).error, 'invalid_grant');
  });
});

describe('constant-time comparison', () => {
  test('safeEqual is true only for equal strings and never throws on unequal lengths', () => {
    assert.equal(safeEqual('abc', 'abc'), true);
    assert.equal(safeEqual('', ''), true);
    assert.equal(safeEqual('abc', 'abd'), false);
    assert.equal(safeEqual('abc', 'abcd'), false);
    assert.equal(safeEqual('', 'a'.repeat(10_000)), false);
    assert.equal(safeEqual('a', 'a\u0000'), false);
    assert.equal(safeEqual('é', 'e\u0301'), false);
    assert.equal(safeEqual('🙂', '🙂'), true);
  });

  test(
    'a confidential client with a wrong secret of any length is refused with 401, not a crash',
    withTestContext(async (t) => {
      const s = await startTestServer({
        env: {
          DEVICE_CLIENTS: JSON.stringify([
            { id: 'ci', name: 'CI', secret: 'correct-secret-0123456789' },
          ]),
        },
      });
      t.after(() => s.close());
      for (const secret of [
        '',
        'x',
        'correct-secret-012345678',
        'correct-secret-0123456789x',
        'é'.repeat(500),
      ]) {
        const res = await postForm(`${s.url}/oauth2/device_authorization`, {
          client_id: 'ci',
          client_secret: secret,
          scope: 'spark-admin:people_read',
        });
        assert.equal(res.status, 401, `secret of length ${secret.length}: ${res.body}`);
        assert.equal(JSON.parse(res.body).error, 'invalid_client');
      }
      const ok = await postForm(`${s.url}/oauth2/device_authorization`, {
        client_id: 'ci',
        client_secret: 'correct-secret-0123456789',
        scope: 'spark-admin:people_read',
      });
      assert.equal(ok.status, 200);
    }),
  );
});

describe('startup refuses a bad TOKEN_ENCRYPTION_KEY', () => {
  const base = { NODE_ENV: 'test', REDIS_URL: 'redis://127.0.0.1:6379' };
  const bad: [string, Record<string, string>, string | undefined][] = [
    ['missing with Redis', base, undefined],
    ['empty with Redis', { ...base, TOKEN_ENCRYPTION_KEY: '' }, undefined],
    ['malformed base64', { ...base, TOKEN_ENCRYPTION_KEY: 'not*base64!!' }, 'not*base64!!'],
    [
      'shorter than 32 bytes',
      { ...base, TOKEN_ENCRYPTION_KEY: crypto.randomBytes(16).toString('base64') },
      undefined,
    ],
    [
      '31 bytes',
      { ...base, TOKEN_ENCRYPTION_KEY: crypto.randomBytes(31).toString('base64') },
      undefined,
    ],
    [
      'longer than 32 bytes',
      { ...base, TOKEN_ENCRYPTION_KEY: crypto.randomBytes(33).toString('base64') },
      undefined,
    ],
    [
      'a good key then a short one',
      { ...base, TOKEN_ENCRYPTION_KEY: `${KEY_B},${crypto.randomBytes(8).toString('base64')}` },
      undefined,
    ],
  ];
  for (const [what, env, secret] of bad) {
    test(what, () => {
      assert.throws(
        () => loadConfig(env),
        (err: Error) => {
          assert.ok(err instanceof ConfigError, `ConfigError expected, got ${err.name}`);
          assert.match(err.message, /TOKEN_ENCRYPTION_KEY/);
          if (env.TOKEN_ENCRYPTION_KEY)
            assert.ok(!err.message.includes(env.TOKEN_ENCRYPTION_KEY), 'the key is not echoed');
          if (secret) assert.ok(!err.message.includes(secret));
          return true;
        },
      );
    });
  }
  test('a valid key list loads, first key first', () => {
    const config = loadConfig({ ...base, TOKEN_ENCRYPTION_KEY: `${KEY_B}, ${KEY_A}` });
    assert.deepEqual(
      config.encryptionKeys.map((k) => k.toString('base64')),
      [KEY_B, KEY_A],
    );
  });
});

describe('random codes', () => {
  test('tokens carry the entropy asked for and do not repeat; user codes use the consonant alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = randomToken(32);
      assert.equal(Buffer.from(t, 'base64url').length, 32, '256 bits');
      seen.add(t);
    }
    assert.equal(seen.size, 2000);
    assert.equal(USER_CODE_ALPHABET, 'BCDFGHJKLMNPQRSTVWXZ');
    const codes = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const code = generateUserCode();
      assert.match(code, /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
      codes.add(code);
    }
    assert.ok(codes.size > 1990, 'user codes are not predictable');
    const used = new Set([...codes].join(''));
    assert.equal(used.size, 20, 'every letter of the alphabet is used');
  });

  test('typed user codes match ignoring case, dashes and spaces, and nothing else', () => {
    assert.equal(normalizeUserCode('bcdf-ghjk'), 'BCDFGHJK');
    assert.equal(normalizeUserCode(' BCDF GHJK '), 'BCDFGHJK');
    assert.equal(normalizeUserCode('bcdfghjk'), 'BCDFGHJK');
    for (const bad of [
      'BCDF-GHJA',
      'BCDF-GHJ',
      'BCDF-GHJKL',
      'BCDF_GHJK',
      'ＢCDF-GHJK',
      '',
      'BCDF%2DGHJK',
    ]) {
      assert.equal(normalizeUserCode(bad), null, bad);
    }
  });
});
