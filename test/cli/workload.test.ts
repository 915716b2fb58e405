/**
 * `webex-token login --oidc` and `webex-token token --oidc` (workload identity) in-process,
 * over real HTTP against a loopback stand-in for the service's contract and GitHub's ID-token
 * endpoint; a fake clock stands in for the waits between retries.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, beforeEach, describe, test } from '@jest/globals';
import { type CliIO, run } from '../../src/cli/main';
import {
  ACCESS_TOKEN_TYPE,
  GITHUB_SUB,
  JWT_TYPE,
  TOKEN_EXCHANGE,
  WorkloadServer,
} from './workload-server';
import { FakeClock } from './fake-clock';

const server = new WorkloadServer();

beforeAll(() => server.start());
afterAll(() => server.stop());
beforeEach(() => {
  server.posts.length = 0;
  server.idTokenRequests.length = 0;
  server.bound.clear();
  server.unavailable = 0;
});

async function cli(argv: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const clock = new FakeClock();
  const io: CliIO = {
    stdout: { write: (c: string) => (out += c) },
    stderr: { write: (c: string) => (err += c), isTTY: false },
    env,
    clock,
  };
  const code = await run(argv, io);
  return { code, out, err, clock };
}

const claims = (token: string | undefined): Record<string, unknown> =>
  JSON.parse(Buffer.from((token ?? '').split('.')[1] ?? '', 'base64url').toString()) as Record<
    string,
    unknown
  >;

describe('login --oidc github: the first run', () => {
  test('fetches the ID token for the server URL and sends it as subject_token; the handoff follows', async () => {
    const r = await cli(
      ['login', '-s', server.base, '--oidc', 'github', '--scope', 'spark-admin:people_read'],
      server.githubEnv,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(server.idTokenRequests.length, 1);
    assert.equal(server.idTokenRequests[0]?.get('audience'), server.base, 'default audience');
    assert.equal(server.idTokenRequests[0]?.get('api-version'), '2.0');
    const authorize = server.posts.find((p) => p.path === '/oauth2/device_authorization');
    assert.equal(authorize?.params.subject_token_type, JWT_TYPE);
    assert.equal(claims(authorize?.params.subject_token).sub, GITHUB_SUB);
    assert.equal(authorize?.params.scope, 'spark-admin:people_read');
    assert.match(r.err, /It carries this job's GitHub ID token/);
    assert.equal((JSON.parse(r.out) as { access_token: string }).access_token, 'AT-login');
    assert.ok(server.bound.has(GITHUB_SUB), 'approving bound the grant to the job');
    assert.equal(r.err.includes(authorize?.params.subject_token ?? '-'), false, 'never printed');
  });

  test('an ID token for another audience: exit 2 from the CLI itself, nothing sent', async () => {
    const r = await cli(
      ['login', '-s', server.base, '--oidc', 'gitlab', '--scope', 'spark:people_read'],
      { WEBEX_TOKEN_ID_TOKEN: server.gitlabToken('https://elsewhere.example.com') },
    );
    assert.equal(r.code, 2);
    assert.match(r.err, /is for audience "https:\/\/elsewhere\.example\.com"/);
    assert.equal(server.posts.length, 0);
  });

  test('the service refusing the ID token (invalid_grant) is exit 2 with its description', async () => {
    const replayed = server.gitlabToken();
    const env = { WEBEX_TOKEN_ID_TOKEN: replayed };
    const argv = ['login', '-s', server.base, '--oidc', 'gitlab', '--scope', 'spark:people_read'];
    assert.equal((await cli(argv, env)).code, 0);
    const again = await cli(argv, env);
    assert.equal(again.code, 2, again.err);
    assert.match(
      again.err,
      /the service refused this job's ID token: This ID token was already used/,
    );
    assert.equal(server.posts.filter((p) => p.path === '/oauth2/token').length, 1, 'no polling');
  });
});

describe('token --oidc: later runs (RFC 8693 exchange)', () => {
  const bindGithub = () => server.bound.add(GITHUB_SUB);

  test('exchanges a fresh GitHub ID token and prints the access token in each format', async () => {
    bindGithub();
    const asToken = await cli(
      ['token', '-s', server.base, '--oidc', 'github', '-f', 'token'],
      server.githubEnv,
    );
    assert.equal(asToken.code, 0, asToken.err);
    assert.equal(asToken.out, 'AT-exchanged\n');
    const [exchange] = server.exchanges();
    assert.equal(exchange?.params.grant_type, TOKEN_EXCHANGE);
    assert.equal(exchange?.params.subject_token_type, JWT_TYPE);
    assert.equal(exchange?.params.client_id, 'cli');
    assert.equal(exchange?.params.scope, undefined, 'no --scope: the grant decides');
    assert.equal(claims(exchange?.params.subject_token).aud, server.base);

    const asEnv = await cli(
      ['token', '-s', server.base, '--oidc', 'github', '-f', 'env'],
      server.githubEnv,
    );
    assert.equal(
      asEnv.out,
      'WEBEX_ACCESS_TOKEN=AT-exchanged\nWEBEX_ACCESS_TOKEN_EXPIRES_AT=2030-01-12T13:46:40.000Z\n',
    );

    const asJson = await cli(['token', '-s', server.base, '--oidc', 'github'], server.githubEnv);
    const body = JSON.parse(asJson.out) as Record<string, unknown>;
    assert.equal(body.access_token, 'AT-exchanged');
    assert.equal(body.issued_token_type, ACCESS_TOKEN_TYPE);
    assert.equal(body.refresh_token, undefined);
    assert.equal(body.expires_at, '2030-01-12T13:46:40.000Z');
    const jtis = server.exchanges().map((e) => claims(e.params.subject_token).jti);
    assert.equal(new Set(jtis).size, 3, 'a fresh ID token each run');
  });

  test('--scope narrows; more than the grant is invalid_scope, exit 2', async () => {
    bindGithub();
    const narrow = await cli(
      ['token', '-s', server.base, '--oidc', 'github', '--scope', 'spark:people_read'],
      server.githubEnv,
    );
    assert.equal(narrow.code, 0, narrow.err);
    assert.equal((JSON.parse(narrow.out) as { scope: string }).scope, 'spark:people_read');
    const wide = await cli(
      ['token', '-s', server.base, '--oidc', 'github', '--scope', 'spark:all'],
      server.githubEnv,
    );
    assert.equal(wide.code, 2);
    assert.match(wide.err, /scope refused: The grant does not include every scope/);
  });

  test('no grant bound to the job: invalid_grant → exit 4, saying to run login --oidc first', async () => {
    const r = await cli(['token', '-s', server.base, '--oidc', 'github'], server.githubEnv);
    assert.equal(r.code, 4, r.err);
    assert.equal(r.out, '');
    assert.match(r.err, /No grant is bound to this job\./);
    assert.match(r.err, /run "webex-token login --oidc" in this job once.*ask an admin/);
  });

  test('--audience and WEBEX_TOKEN_AUDIENCE choose the audience GitHub mints for', async () => {
    await cli(['token', '-s', server.base, '--oidc', 'github', '--audience', 'aud-flag'], {
      ...server.githubEnv,
      WEBEX_TOKEN_AUDIENCE: 'aud-env',
    });
    await cli(['token', '-s', server.base, '--oidc', 'github'], {
      ...server.githubEnv,
      WEBEX_TOKEN_AUDIENCE: 'aud-env',
    });
    assert.deepEqual(
      server.idTokenRequests.map((q) => q.get('audience')),
      ['aud-flag', 'aud-env'],
    );
  });

  test('GitLab: the ID token from WEBEX_TOKEN_ID_TOKEN, or the variable named', async () => {
    server.bound.add('project_path:acme/deploy:ref_type:branch:ref:main');
    const byDefault = await cli(['token', '-s', server.base, '--oidc', 'gitlab', '-f', 'token'], {
      WEBEX_TOKEN_ID_TOKEN: server.gitlabToken(),
    });
    assert.equal(byDefault.code, 0, byDefault.err);
    assert.equal(byDefault.out, 'AT-exchanged\n');
    const mine = server.gitlabToken();
    const named = await cli(
      ['token', '-s', server.base, '--oidc', 'gitlab', '--id-token-variable', 'MY_ID_TOKEN'],
      { MY_ID_TOKEN: mine, WEBEX_TOKEN_ID_TOKEN: 'not-this-one' },
    );
    assert.equal(named.code, 0, named.err);
    assert.equal(server.exchanges()[1]?.params.subject_token, mine);
    const byEnv = await cli(['token', '-s', server.base, '--oidc', 'gitlab'], {
      WEBEX_TOKEN_ID_TOKEN_VARIABLE: 'MY_ID_TOKEN',
    });
    assert.equal(byEnv.code, 2);
    assert.match(byEnv.err, /no ID token in \$MY_ID_TOKEN/);
  });

  test('a transient 503: retried with back-off (Retry-After at least) and a fresh GitHub ID token', async () => {
    bindGithub();
    server.unavailable = 1;
    const r = await cli(
      ['token', '-s', server.base, '--oidc', 'github', '-f', 'token'],
      server.githubEnv,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'AT-exchanged\n');
    assert.match(
      r.err,
      /503.*temporarily_unavailable.*retrying in 2 s with a fresh ID token \(1\)/,
    );
    const tokens = server.exchanges().map((e) => e.params.subject_token);
    assert.equal(tokens.length, 2);
    assert.notEqual(tokens[0], tokens[1]);
    assert.deepEqual(r.clock.slept, [2000]);
  });

  test('503 that persists: exit 5 after 3 attempts; GitLab presents its one token once', async () => {
    bindGithub();
    server.unavailable = 5;
    const github = await cli(['token', '-s', server.base, '--oidc', 'github'], server.githubEnv);
    assert.equal(github.code, 5);
    assert.match(github.err, /gave up after 3 attempts\); run the job again/);
    assert.equal(server.exchanges().length, 3);

    server.posts.length = 0;
    const gitlab = await cli(['token', '-s', server.base, '--oidc', 'gitlab'], {
      WEBEX_TOKEN_ID_TOKEN: server.gitlabToken(),
    });
    assert.equal(gitlab.code, 5);
    assert.match(gitlab.err, /temporarily_unavailable.*run the job again/);
    assert.equal(server.exchanges().length, 1);
    assert.equal(gitlab.clock.slept.length, 0);
  });

  test('token without --oidc, or --audience without --oidc: exit 2 before any request', async () => {
    const none = await cli(['token', '-s', server.base]);
    assert.equal(none.code, 2);
    assert.match(none.err, /token needs --oidc github\|gitlab/);
    const stray = await cli(['login', '-s', server.base, '--audience', 'x']);
    assert.equal(stray.code, 2);
    assert.match(stray.err, /--audience goes with --oidc/);
    const bad = await cli(['token', '-s', server.base, '--oidc', 'circleci']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--oidc must be one of: github, gitlab/);
    assert.equal(server.posts.length, 0);
  });
});
