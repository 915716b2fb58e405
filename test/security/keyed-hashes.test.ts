/**
 * Keyed hashes: everything the store keys by a code, an address or a cookie is an HMAC under
 * the server key, never a plain SHA-256 (all 20^8 user codes hash in about a core-hour, every
 * IPv4 address in seconds, so a plain hash is as good as the value to someone reading Redis).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { KeyedHasher, Sealer } from '../../src/crypto';
import { addressId } from '../../src/flows/rate-limit';
import { openApproval } from '../helpers/admin';
import { CookieBrowser, forms } from '../helpers/http';
import { dumpPrefix } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';
import { postForm } from './support';

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ env: { TRUST_PROXY: 'true' } });
});
after(() => srv?.close());

/** Plain SHA-256 of `value` in every encoding a store key or value could use. */
function plainHashes(value: string): string[] {
  const digest = crypto.createHash('sha256').update(value, 'utf8').digest();
  return [digest.toString('hex'), digest.toString('base64'), digest.toString('base64url')];
}

test('no key or value in Redis is a plain SHA-256 of a code, state, cookie or address used', async () => {
  const requester = '198.51.100.23';
  const admin = '2001:db8:aa:bb:1:2:3:4';

  const auth = await postForm(
    `${srv.url}/oauth2/device_authorization`,
    { client_id: 'cli', scope: 'spark-admin:people_read' },
    { 'x-forwarded-for': requester },
  );
  const { device_code: deviceCode, user_code: userCode } = JSON.parse(auth.body) as Record<
    string,
    string
  >;
  // An admin enters a wrong code, then the right one, then starts the approval (state, binding).
  const browser = new CookieBrowser();
  const enter = await browser.get(`${srv.url}/device`, { 'x-forwarded-for': admin });
  const csrf = forms(enter.body).find((f) => f.action === '/device')!.fields.csrf!;
  const wrong = await browser.post(
    `${srv.url}/device`,
    { csrf, user_code: 'BBBB-CCCC' },
    { 'x-forwarded-for': admin },
  );
  assert.equal(wrong.status, 400);
  const { page } = await openApproval(srv.url, userCode!, browser);
  const approve = forms(page.body).find((f) => f.action === '/device/approve')!;
  const toWebex = await browser.post(`${srv.url}/device/approve`, approve.fields, {
    'x-forwarded-for': admin,
  });
  const state = new URL(toWebex.location!).searchParams.get('state')!;
  const browserId = [...browser.cookies.values()][0]!;

  const plainValues = [
    deviceCode!,
    userCode!,
    userCode!.replace('-', ''),
    'BBBBCCCC',
    state,
    browserId,
    `csrf:${browserId}`,
    `browser:${browserId}`,
    requester,
    admin,
    addressId(requester),
    addressId(admin),
    `ip:${requester}`,
    `ip:${admin}`,
    '127.0.0.1',
    'ip:127.0.0.1',
    `code:${userCode!.replace('-', '')}`,
    `code:BBBBCCCC`,
  ];
  const forbidden = new Map<string, string>();
  for (const v of plainValues) for (const h of plainHashes(v)) forbidden.set(h, v);

  const dump = await dumpPrefix(srv.redis!.url, srv.redis!.prefix);
  assert.ok(dump.size >= 8, `the flow wrote its keys (${[...dump.keys()].join(', ')})`);
  for (const [key, value] of dump) {
    for (const [hash, of] of forbidden) {
      assert.ok(!key.includes(hash), `Redis key ${key} holds a plain SHA-256 of ${of}`);
      assert.ok(!value.includes(hash), `the value of ${key} holds a plain SHA-256 of ${of}`);
    }
  }
  // The CSRF token sent to the browser is keyed too: knowing the cookie is not enough.
  for (const h of plainHashes(`csrf:${browserId}`).concat(plainHashes(browserId)))
    assert.notEqual(approve.fields.csrf, h);
  // The rate-limit keys exist, and are keyed: per address (IPv6 per /64), browser and code.
  assert.ok([...dump.keys()].filter((k) => k.includes('rl:user_code:')).length >= 2);
  assert.ok([...dump.keys()].some((k) => k.includes('rl:user_code_each:')));
});

test('the keyed hash depends on the server key, its purpose and the value', () => {
  const a = new KeyedHasher(Buffer.alloc(32, 1));
  const b = new KeyedHasher(Buffer.alloc(32, 2));
  assert.notEqual(a.digest('user_code', 'BCDFGHJK'), b.digest('user_code', 'BCDFGHJK'));
  assert.notEqual(a.digest('user_code', 'BCDFGHJK'), a.digest('device_code', 'BCDFGHJK'));
  assert.notEqual(a.digest('user_code', 'BCDFGHJK'), a.digest('user_code', 'BCDFGHJL'));
  assert.equal(a.digest('user_code', 'BCDFGHJK'), a.digest('user_code', 'BCDFGHJK'));
  assert.match(a.digest('x', 'y'), /^[A-Za-z0-9_-]{43}$/);
  // The HMAC key is derived (HKDF, own label), never the AES key itself.
  const aesKey = Buffer.alloc(32, 3);
  assert.notEqual(
    new Sealer([aesKey]).hasher.digest('p', 'v'),
    new KeyedHasher(aesKey).digest('p', 'v'),
  );
  // A rotation adds a key in front: the digests stay, so replicas agree during the rollout.
  const newKey = Buffer.alloc(32, 4);
  assert.equal(
    new Sealer([newKey, aesKey]).hasher.digest('p', 'v'),
    new Sealer([aesKey]).hasher.digest('p', 'v'),
  );
});

test('rate-limit identities: IPv6 per /64, IPv4-mapped as IPv4', () => {
  assert.equal(addressId('2001:db8:aa:bb:1:2:3:4'), addressId('2001:db8:aa:bb:ffff::1'));
  assert.equal(addressId('2001:0db8:00aa:00bb::'), addressId('2001:db8:aa:bb:1:2:3:4'));
  assert.notEqual(addressId('2001:db8:aa:bb::1'), addressId('2001:db8:aa:bc::1'));
  assert.equal(addressId('::ffff:192.0.2.1'), addressId('192.0.2.1'));
  assert.notEqual(addressId('192.0.2.1'), addressId('192.0.2.2'));
  assert.equal(addressId('::1'), 'ip6:0:0:0:0::/64');
});
