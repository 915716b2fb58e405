import assert from 'node:assert/strict';
import { describe, test } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config';

function fails(env: Record<string, string>, pattern: RegExp) {
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.match(err.message, pattern);
      assert.equal(err.message.includes('\n'), false, 'one line');
      return true;
    },
  );
}

describe('workload identity configuration', () => {
  test('off by default, with RS256/ES256 and a 15-minute age bound', () => {
    const c = loadConfig({});
    assert.deepEqual(c.workload, {
      issuers: [],
      algorithms: ['RS256', 'ES256'],
      maxTokenAgeSeconds: 900,
    });
  });

  test('presets resolve to the public issuers with PUBLIC_URL as the audience', () => {
    const env = { PUBLIC_URL: 'https://tokens.example.com' };
    const expected = [
      {
        name: 'github',
        issuer: 'https://token.actions.githubusercontent.com',
        audience: 'https://tokens.example.com',
      },
      { name: 'gitlab', issuer: 'https://gitlab.com', audience: 'https://tokens.example.com' },
    ];
    assert.deepEqual(
      loadConfig({ ...env, WORKLOAD_ISSUERS: '["github","gitlab"]' }).workload.issuers,
      expected,
    );
    assert.deepEqual(
      loadConfig({ ...env, WORKLOAD_ISSUERS: 'github, gitlab' }).workload.issuers,
      expected,
    );
  });

  test('custom entries, a preset with its own audience, and a loopback http issuer', () => {
    const c = loadConfig({
      WORKLOAD_ISSUERS: JSON.stringify([
        { name: 'github', audience: 'webex-tokens' },
        { name: 'gl-self', issuer: 'https://gitlab.example.com', audience: 'aud-1' },
        { name: 'local', issuer: 'http://127.0.0.1:9999', audience: 'aud-2' },
        { name: 'local6', issuer: 'http://[::1]:9999' },
      ]),
      WORKLOAD_ALGORITHMS: 'RS256,PS256 EdDSA',
      WORKLOAD_MAX_TOKEN_AGE_SECONDS: '120',
    });
    assert.deepEqual(
      c.workload.issuers.map((i) => [i.name, i.issuer, i.audience]),
      [
        ['github', 'https://token.actions.githubusercontent.com', 'webex-tokens'],
        ['gl-self', 'https://gitlab.example.com', 'aud-1'],
        ['local', 'http://127.0.0.1:9999', 'aud-2'],
        ['local6', 'http://[::1]:9999', 'http://localhost:8080'],
      ],
    );
    assert.deepEqual(c.workload.algorithms, ['RS256', 'PS256', 'EdDSA']);
    assert.equal(c.workload.maxTokenAgeSeconds, 120);
  });

  test('an http:// issuer off loopback is refused, saying where http is allowed', () => {
    fails(
      { WORKLOAD_ISSUERS: '[{"name":"ci","issuer":"http://ci.example.com","audience":"a"}]' },
      /^Invalid configuration: WORKLOAD_ISSUERS .*http:\/\/.*only on a loopback address/,
    );
    fails(
      { WORKLOAD_ISSUERS: '[{"name":"ci","issuer":"http://10.0.0.5","audience":"a"}]' },
      /WORKLOAD_ISSUERS .*loopback/,
    );
  });

  test('malformed entries are refused with a message naming the problem', () => {
    fails({ WORKLOAD_ISSUERS: '[github' }, /WORKLOAD_ISSUERS is not valid JSON/);
    fails({ WORKLOAD_ISSUERS: '["bitbucket"]' }, /WORKLOAD_ISSUERS .*"bitbucket" is not a preset/);
    fails({ WORKLOAD_ISSUERS: '[{"issuer":"https://x.example"}]' }, /needs a "name"/);
    fails({ WORKLOAD_ISSUERS: '["github","github"]' }, /listed twice/);
    fails(
      {
        WORKLOAD_ISSUERS:
          '[{"name":"a","issuer":"https://x.example"},{"name":"b","issuer":"https://x.example"}]',
      },
      /issuer https:\/\/x\.example is listed twice/,
    );
    fails(
      { WORKLOAD_ISSUERS: '[{"name":"a","issuer":"https://x.example?q=1"}]' },
      /must not carry a query/,
    );
    fails(
      { WORKLOAD_ISSUERS: '[{"name":"a","issuer":"https://x.example","audiences":"y"}]' },
      /unknown field "audiences"/,
    );
    fails({ WORKLOAD_ISSUERS: '{"name":"github"}' }, /must be a JSON array/);
  });

  test('symmetric and unsigned algorithms cannot be allowed', () => {
    for (const alg of ['HS256', 'none', 'rs256']) {
      fails({ WORKLOAD_ALGORITHMS: `RS256 ${alg}` }, /WORKLOAD_ALGORITHMS .*only asymmetric/);
    }
    fails({ WORKLOAD_ALGORITHMS: ' ' }, /WORKLOAD_ALGORITHMS must list at least one/);
    fails({ WORKLOAD_MAX_TOKEN_AGE_SECONDS: '0' }, /WORKLOAD_MAX_TOKEN_AGE_SECONDS/);
  });
});
