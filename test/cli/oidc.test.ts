import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { CliError, EXIT } from '../../src/cli/errors';
import { fetchIdToken, parseOidcProvider } from '../../src/cli/oidc';

const AUDIENCE = 'https://tokens.example.com';

function jwt(claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

async function failsWith(promise: Promise<unknown>, exitCode: number, pattern: RegExp) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CliError, String(err));
    assert.equal(err.exitCode, exitCode);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('webex-token --oidc: getting the job ID token', () => {
  /** Imitates GitHub's runner endpoint: GET ?api-version=2.0&audience=…, Bearer auth, {value}. */
  let server: http.Server;
  let base = '';
  const seen: { url: string; authorization: string | undefined }[] = [];
  let answer: { status: number; body: string } | undefined;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      if (answer) {
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
        return;
      }
      if (req.headers.authorization !== 'Bearer runner-request-token') {
        res.writeHead(401).end('{"message":"Unauthorized"}');
        return;
      }
      const aud = new URL(req.url ?? '/', 'http://x').searchParams.get('audience');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ count: 1, value: jwt({ aud, sub: 'repo:a/b:ref:refs/heads/main' }) }),
        );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const githubEnv = () => ({
    ACTIONS_ID_TOKEN_REQUEST_URL: `${base}/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token',
  });

  test('GitHub: asks the runner endpoint with the bearer token and the audience, keeps its query', async () => {
    seen.length = 0;
    answer = undefined;
    const token = await fetchIdToken({
      provider: 'github',
      audience: AUDIENCE,
      env: githubEnv(),
      fetch,
    });
    assert.equal(token.split('.').length, 3);
    assert.equal(seen.length, 1);
    const url = new URL(seen[0]?.url ?? '', base);
    assert.equal(url.searchParams.get('api-version'), '2.0');
    assert.equal(url.searchParams.get('audience'), AUDIENCE);
    assert.equal(seen[0]?.authorization, 'Bearer runner-request-token');
  });

  test('GitHub: without id-token permission the message says what to add', async () => {
    await failsWith(
      fetchIdToken({ provider: 'github', audience: AUDIENCE, env: {}, fetch }),
      EXIT.usage,
      /permissions: id-token: write/,
    );
  });

  test('GitHub: a refusal, an empty answer and a token for another audience are clear errors', async () => {
    answer = { status: 403, body: '{}' };
    await failsWith(
      fetchIdToken({ provider: 'github', audience: AUDIENCE, env: githubEnv(), fetch }),
      EXIT.server,
      /HTTP 403.*id-token: write/,
    );
    answer = { status: 200, body: '{"count":0}' };
    await failsWith(
      fetchIdToken({ provider: 'github', audience: AUDIENCE, env: githubEnv(), fetch }),
      EXIT.server,
      /without a token/,
    );
    answer = {
      status: 200,
      body: JSON.stringify({ value: jwt({ aud: 'https://github.com/acme' }) }),
    };
    await failsWith(
      fetchIdToken({ provider: 'github', audience: AUDIENCE, env: githubEnv(), fetch }),
      EXIT.usage,
      /audience "https:\/\/github.com\/acme".*expects "https:\/\/tokens.example.com"/,
    );
    answer = undefined;
  });

  test('GitHub: the request token is never sent over plain http off the machine', async () => {
    let called = false;
    const spy = (async () => {
      called = true;
      throw new Error('no');
    }) as unknown as typeof fetch;
    await failsWith(
      fetchIdToken({
        provider: 'github',
        audience: AUDIENCE,
        env: { ...githubEnv(), ACTIONS_ID_TOKEN_REQUEST_URL: 'http://runner.example/idtoken' },
        fetch: spy,
      }),
      EXIT.server,
      /not an https/,
    );
    assert.equal(called, false);
  });

  test('GitLab: reads the id_tokens variable, default WEBEX_TOKEN_ID_TOKEN or a named one', async () => {
    const value = jwt({ aud: AUDIENCE, sub: 'project_path:g/p:ref_type:branch:ref:main' });
    const noFetch = (() => {
      throw new Error('GitLab needs no request');
    }) as unknown as typeof fetch;
    assert.equal(
      await fetchIdToken({
        provider: 'gitlab',
        audience: AUDIENCE,
        env: { WEBEX_TOKEN_ID_TOKEN: `${value}\n` },
        fetch: noFetch,
      }),
      value,
    );
    assert.equal(
      await fetchIdToken({
        provider: 'gitlab',
        audience: AUDIENCE,
        env: { MY_TOKEN: value },
        idTokenVariable: 'MY_TOKEN',
        fetch: noFetch,
      }),
      value,
    );
  });

  test('GitLab: a missing variable or a wrong aud names the fix', async () => {
    await failsWith(
      fetchIdToken({ provider: 'gitlab', audience: AUDIENCE, env: {}, fetch }),
      EXIT.usage,
      /\$WEBEX_TOKEN_ID_TOKEN.*id_tokens.*aud: "https:\/\/tokens.example.com"/,
    );
    await failsWith(
      fetchIdToken({
        provider: 'gitlab',
        audience: AUDIENCE,
        env: { WEBEX_TOKEN_ID_TOKEN: jwt({ aud: ['other'] }) },
        fetch,
      }),
      EXIT.usage,
      /audience "other"/,
    );
    await failsWith(
      fetchIdToken({
        provider: 'gitlab',
        audience: AUDIENCE,
        env: { WEBEX_TOKEN_ID_TOKEN: 'xyz' },
        fetch,
      }),
      EXIT.usage,
      /not a JWT/,
    );
  });

  test('--oidc accepts github and gitlab only', () => {
    assert.equal(parseOidcProvider('github'), 'github');
    assert.equal(parseOidcProvider('gitlab'), 'gitlab');
    assert.throws(() => parseOidcProvider('circleci'), /--oidc must be one of: github, gitlab/);
  });
});
