import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, test } from '@jest/globals';
import { WorkloadIssuerUnavailableError, WorkloadTokenError } from '../../src/errors';
import { RedisStore } from '../../src/store/redis';
import type { WorkloadPolicy } from '../../src/workload/issuers';
import {
  createWorkloadVerifier,
  hmacDigest,
  type FetchLike,
  type WorkloadVerifier,
} from '../../src/workload/verify';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer';
import { dumpPrefix, sharedRedis, uniquePrefix } from '../helpers/redis';
import { fakeClock } from '../helpers/time';

const AUDIENCE = 'https://tokens.example.test';

/** Rejects with a WorkloadTokenError of this reason, whose text never contains the token. */
async function refused(
  promise: Promise<unknown>,
  reason: WorkloadTokenError['reason'],
  token: string,
): Promise<WorkloadTokenError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof WorkloadTokenError, `expected a refusal, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.code, 'invalid_grant');
  assert.equal(caught.status, 400);
  const text = `${caught.message} ${caught.hint ?? ''}`;
  assert.equal(text.includes(token), false, 'the token never appears in the error');
  const payload = token.split('.')[1] ?? '';
  if (payload.length > 8) assert.equal(text.includes(payload), false, 'nor its payload');
  return caught;
}

describe('workload ID-token verification', () => {
  let github: TestIssuer;
  let gitlab: TestIssuer;
  let stranger: TestIssuer;
  let store: RedisStore;
  let redisUrl: string;
  let prefix: string;
  /** The one clock of these tests, in milliseconds; the issuers mint from it too. */
  let clock = fakeClock();
  const seconds = () => Math.floor(clock.now() / 1000);
  let fetched: string[] = [];
  let verifier: WorkloadVerifier;

  const countingFetch: FetchLike = (url, init) => {
    fetched.push(url);
    return fetch(url, init);
  };

  function build(overrides: Partial<WorkloadPolicy> = {}): WorkloadVerifier {
    return createWorkloadVerifier({
      policy: {
        issuers: [
          { name: 'github', issuer: github.url, audience: AUDIENCE },
          { name: 'gitlab', issuer: gitlab.url, audience: AUDIENCE },
        ],
        algorithms: ['RS256', 'ES256'],
        maxTokenAgeSeconds: 900,
        ...overrides,
      },
      store,
      digest: hmacDigest(crypto.randomBytes(32)),
      fetch: countingFetch,
      now: () => clock.now(),
    });
  }

  beforeAll(async () => {
    github = await startTestIssuer({ now: seconds, audience: AUDIENCE });
    gitlab = await startTestIssuer({ now: seconds, audience: AUDIENCE, alg: 'ES256' });
    stranger = await startTestIssuer({ now: seconds, audience: AUDIENCE });
    redisUrl = (await sharedRedis()).url;
    prefix = uniquePrefix('workload');
    store = new RedisStore({ url: redisUrl, prefix, commandTimeoutMs: 1000 });
    await store.waitUntilReady(3000);
  });

  afterAll(async () => {
    await store.close();
    await dumpPrefix(redisUrl, prefix, { remove: true });
    await Promise.all([github.close(), gitlab.close(), stranger.close()]);
  });

  beforeEach(() => {
    clock = fakeClock();
    fetched = [];
    github.failWith = undefined;
    github.discovery = {};
    verifier = build();
  });

  test('a GitHub-shaped token verifies and yields its facts; its jti is stored only as an HMAC', async () => {
    const token = await github.mintGithub({ repository: 'acme/deploy', branch: 'main' });
    const result = await verifier.verify(token);
    assert.equal(result.issuerName, 'github');
    assert.equal(result.issuer, github.url);
    assert.equal(result.audience, AUDIENCE);
    assert.equal(result.sub, 'repo:acme/deploy:ref:refs/heads/main');
    assert.deepEqual(result.facts, {
      repository: 'acme/deploy',
      ref: 'refs/heads/main',
      workflow: 'deploy',
      actor: 'octocat',
      run_id: '987654321',
    });
    const jti = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString())
      .jti as string;
    const dump = await dumpPrefix(redisUrl, prefix);
    assert.ok(dump.size >= 1);
    for (const [key, value] of dump) {
      assert.equal(key.includes(jti), false);
      assert.equal(value.includes(jti), false);
    }
  });

  test('a GitLab-shaped ES256 token verifies and yields project_path and pipeline_id', async () => {
    const token = await gitlab.mintGitlab({ project: 'grp/sub/proj', branch: 'release' });
    const result = await verifier.verify(token);
    assert.equal(result.issuerName, 'gitlab');
    assert.equal(result.sub, 'project_path:grp/sub/proj:ref_type:branch:ref:release');
    assert.deepEqual(result.facts, {
      project_path: 'grp/sub/proj',
      pipeline_id: '1212',
      ref: 'release',
    });
  });

  test('a jti is accepted once: the same token again is refused as replayed', async () => {
    const token = await github.mintGithub();
    await verifier.verify(token);
    await refused(verifier.verify(token), 'replayed', token);
  });

  test('consume: false verifies without burning; consume() then burns it exactly once', async () => {
    const token = await github.mintGithub();
    const first = await verifier.verify(token, { consume: false });
    const again = await verifier.verify(token, { consume: false });
    assert.equal(again.sub, first.sub, 'still unused');
    const results = await Promise.allSettled([verifier.consume(first), verifier.consume(again)]);
    assert.deepEqual(
      results.map((r) => r.status).sort(),
      ['fulfilled', 'rejected'],
      'of two concurrent consumers exactly one wins',
    );
    await refused(verifier.verify(token), 'replayed', token);
  });

  test('a replay is refused by another verifier sharing the store (another replica)', async () => {
    const token = await github.mintGithub();
    await verifier.verify(token);
    // Same server key, separate instance: only the store knows the token was used.
    const digest = hmacDigest(Buffer.alloc(32, 7));
    const a = createWorkloadVerifier({
      policy: {
        issuers: [{ name: 'github', issuer: github.url, audience: AUDIENCE }],
        algorithms: ['RS256'],
        maxTokenAgeSeconds: 900,
      },
      store,
      digest,
      fetch: countingFetch,
      now: () => clock.now(),
    });
    const b = createWorkloadVerifier({
      policy: {
        issuers: [{ name: 'github', issuer: github.url, audience: AUDIENCE }],
        algorithms: ['RS256'],
        maxTokenAgeSeconds: 900,
      },
      store,
      digest,
      fetch: countingFetch,
      now: () => clock.now(),
    });
    const fresh = await github.mintGithub();
    await a.verify(fresh);
    await refused(b.verify(fresh), 'replayed', fresh);
  });

  test('a token for another audience is refused and the answer names the expected one', async () => {
    const token = await github.mintGithub({ claims: { aud: 'https://elsewhere.example' } });
    const err = await refused(verifier.verify(token), 'wrong_audience', token);
    assert.match(err.message, /tokens\.example\.test/);
  });

  test('an expired token is refused (beyond the clock-skew tolerance)', async () => {
    const t = seconds();
    const token = await github.mintGithub({ claims: { iat: t - 400, nbf: t - 400, exp: t - 31 } });
    await refused(verifier.verify(token), 'expired', token);
  });

  test('a token that expired within the skew tolerance is still accepted', async () => {
    const t = seconds();
    const token = await github.mintGithub({ claims: { iat: t - 300, nbf: t - 300, exp: t - 10 } });
    assert.equal((await verifier.verify(token)).issuerName, 'github');
  });

  test('a token not valid yet (nbf in the future) is refused', async () => {
    const t = seconds();
    const token = await github.mintGithub({ claims: { nbf: t + 120, exp: t + 600 } });
    await refused(verifier.verify(token), 'not_yet_valid', token);
  });

  test('a token claiming to be issued in the future (beyond the skew) is refused', async () => {
    const t = seconds();
    const token = await github.mintGithub({ claims: { iat: t + 120, nbf: t - 10, exp: t + 600 } });
    await refused(verifier.verify(token), 'not_yet_valid', token);
  });

  test('a token issued too long ago (iat beyond the maximum age) is refused though not expired', async () => {
    const t = seconds();
    const token = await github.mintGithub({
      claims: { iat: t - 1000, nbf: t - 1000, exp: t + 3600 },
    });
    const err = await refused(verifier.verify(token), 'too_old', token);
    assert.match(err.message, /900 seconds/);
  });

  test('a token without jti is refused: single use could not be enforced', async () => {
    const token = await github.mintGithub({ claims: { jti: undefined } });
    await refused(verifier.verify(token), 'missing_claim', token);
  });

  test('a token signed with a key the issuer does not publish is refused', async () => {
    const rogue = await github.newKey();
    const token = await github.mintGithub({ key: rogue });
    await refused(verifier.verify(token), 'unknown_key', token);
  });

  test('a token whose payload was altered after signing is refused', async () => {
    const token = await github.mintGithub({ repository: 'acme/deploy' });
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    claims.sub = 'repo:acme/deploy:ref:refs/heads/evil';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await refused(verifier.verify(forged), 'bad_signature', forged);
  });

  test('alg "none" is refused before any key is fetched', async () => {
    const token = github.unsigned(
      { alg: 'none', typ: 'JWT' },
      { iss: github.url, sub: 'repo:a/b:ref:refs/heads/main' },
    );
    await refused(verifier.verify(token), 'alg_not_allowed', token);
    assert.deepEqual(fetched, []);
  });

  test('HS256 signed with the issuer public key as the secret (algorithm confusion) is refused', async () => {
    const header = { alg: 'HS256', typ: 'JWT', kid: github.current.kid };
    const body = github.unsigned(header, { sub: 'repo:a/b:ref:refs/heads/main' }).slice(0, -1);
    for (const secret of [github.current.publicPem, JSON.stringify(github.current.publicJwk)]) {
      const sig = crypto.createHmac('sha256', secret).update(body).digest('base64url');
      const token = `${body}.${sig}`;
      await refused(verifier.verify(token), 'alg_not_allowed', token);
    }
    assert.deepEqual(fetched, []);
  });

  test('a token from an issuer that is not configured is refused and that issuer is never contacted', async () => {
    const token = await stranger.mintGithub();
    await refused(verifier.verify(token), 'unknown_issuer', token);
    assert.deepEqual(stranger.hits, { discovery: 0, jwks: 0, other: 0 });
    assert.equal(
      fetched.some((u) => u.startsWith(stranger.url)),
      false,
    );
    assert.deepEqual(fetched, [], 'no fetch at all');
  });

  test('key rotation: a token with the new kid is accepted after one refetch; keys are cached in between', async () => {
    const first = await github.mintGithub();
    await verifier.verify(first);
    const jwksBefore = github.hits.jwks;
    await verifier.verify(await github.mintGithub());
    assert.equal(github.hits.jwks, jwksBefore, 'second token served from the cache');

    await github.rotate();
    clock.advance(31_000); // past the refetch cooldown
    const rotated = await github.mintGithub();
    const result = await verifier.verify(rotated);
    assert.equal(result.issuerName, 'github');
    assert.equal(github.hits.jwks, jwksBefore + 1, 'exactly one refetch for the new kid');
  });

  test('unknown kids within the cooldown do not make the service refetch the JWKS', async () => {
    await verifier.verify(await github.mintGithub());
    const jwksBefore = github.hits.jwks;
    const rogue = await github.newKey();
    for (let i = 0; i < 5; i += 1) {
      const token = await github.mintGithub({ key: rogue });
      await refused(verifier.verify(token), 'unknown_key', token);
    }
    assert.equal(github.hits.jwks, jwksBefore, 'no refetch inside the cooldown');
    clock.advance(31_000);
    const token = await github.mintGithub({ key: rogue });
    await refused(verifier.verify(token), 'unknown_key', token);
    assert.equal(github.hits.jwks, jwksBefore + 1, 'one refetch after the cooldown');
  });

  test('an issuer that cannot be reached gives 503, not invalid_grant, and no token is consumed', async () => {
    github.failWith = 500;
    const token = await github.mintGithub();
    await assert.rejects(verifier.verify(token), (err: unknown) => {
      assert.ok(err instanceof WorkloadIssuerUnavailableError);
      assert.equal(err.status, 503);
      return true;
    });
    github.failWith = undefined;
    assert.equal((await verifier.verify(token)).issuerName, 'github', 'the token is still usable');
  });

  test('an outage after keys were fetched: cached keys keep serving, retried once per cooldown', async () => {
    await verifier.verify(await github.mintGithub());
    github.failWith = 503;
    clock.advance(11 * 60_000); // past the JWKS cache lifetime
    const jwksBefore = github.hits.jwks;
    assert.equal((await verifier.verify(await github.mintGithub())).issuerName, 'github');
    assert.equal(github.hits.jwks, jwksBefore + 1, 'one refresh attempt');
    assert.equal((await verifier.verify(await github.mintGithub())).issuerName, 'github');
    assert.equal(github.hits.jwks, jwksBefore + 1, 'no second attempt inside the cooldown');
  });

  test('a discovery document that names another issuer is not trusted for keys', async () => {
    github.discovery = { issuer: 'https://token.actions.githubusercontent.com' };
    const token = await github.mintGithub();
    await assert.rejects(verifier.verify(token), WorkloadIssuerUnavailableError);
    assert.equal(
      fetched.some((u) => u.endsWith('/.well-known/jwks')),
      false,
      'its jwks_uri is never fetched',
    );
  });

  test('only configured algorithms are accepted: an ES256 issuer fails an RS256-only policy', async () => {
    const rsOnly = build({ algorithms: ['RS256'] });
    const token = await gitlab.mintGitlab();
    await refused(rsOnly.verify(token), 'alg_not_allowed', token);
  });

  test('garbage is refused as malformed', async () => {
    for (const token of ['', 'abc', 'a.b.c', 'x'.repeat(20_000)]) {
      await refused(verifier.verify(token), 'malformed', token || '\u0000');
    }
  });
});
