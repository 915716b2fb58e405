/**
 * Issue 19, the exchange half: a CI job bound to a grant trades a fresh OIDC ID token for the
 * grant's Webex access token (RFC 8693), against the real service, a local OIDC issuer on
 * loopback and the sandbox Webex. Every refusal is tried by itself, and none revokes the grant.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { loadConfig } from '../../src/config';
import {
  getGrant,
  issueGrant,
  revokeGrant,
  setGrantBinding,
  type WorkloadBinding,
} from '../../src/flows/grants';
import { GrantRepository } from '../../src/flows/grants/repository';
import { authorizationServerMetadata } from '../../src/routes/metadata';
import { SANDBOX_ORG_UUID } from '../../src/sandbox/sandbox';
import {
  CLI,
  MANY_HANDOFFS,
  deliveredTokens,
  events,
  refresh,
  type Client,
} from '../helpers/grants';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer';
import { startTestServer, type TestServer } from '../helpers/server';

const AUDIENCE = 'https://tokens.example.test';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const NIGHTLY: Client = { client_id: 'nightly', client_secret: 'nightly-secret-0123456789abcdef' };
const CLIENTS = JSON.stringify([
  { id: 'cli', name: 'webex-token CLI' },
  { id: 'nightly', name: 'Nightly report', secret: NIGHTLY.client_secret },
]);
const MAIN = 'repo:octo-org/octo-repo:ref:refs/heads/main';
const DAY_MS = 24 * 3600 * 1000;

/** One clock for the service and the issuers, moved by the tests that need time to pass. */
let clockMs = Date.now();
const seconds = () => Math.floor(clockMs / 1000);

let github: TestIssuer;
let gitlab: TestIssuer;
let stranger: TestIssuer;
let srv: TestServer;
/** Every ID token minted here, to check that none reaches a log line. */
const minted: string[] = [];

function issuersEnv(): string {
  return JSON.stringify([
    { name: 'github', issuer: github.url, audience: AUDIENCE },
    { name: 'gitlab', issuer: gitlab.url, audience: AUDIENCE },
  ]);
}

beforeAll(async () => {
  github = await startTestIssuer({ now: seconds, audience: AUDIENCE });
  gitlab = await startTestIssuer({ now: seconds, audience: AUDIENCE, alg: 'ES256' });
  stranger = await startTestIssuer({ now: seconds, audience: AUDIENCE });
  srv = await startTestServer({
    env: {
      ...MANY_HANDOFFS,
      DEVICE_CLIENTS: CLIENTS,
      WORKLOAD_ISSUERS: issuersEnv(),
      ALLOWED_ORG_IDS: SANDBOX_ORG_UUID,
    },
    now: () => clockMs,
    sandboxOptions: { tokenPrefix: 'XCHG' },
  });
});
afterAll(async () => {
  await srv?.close();
  await Promise.all([github, gitlab, stranger].map((i) => i?.close()));
});

async function mint(issuer: TestIssuer, opts: Parameters<TestIssuer['mintGithub']>[0] = {}) {
  const token = await issuer.mintGithub(opts);
  minted.push(token);
  return token;
}

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function exchange(
  subjectToken: string,
  opts: { client?: Client; scope?: string; extra?: Record<string, string>; url?: string } = {},
): Promise<Answer> {
  const res = await fetch(`${opts.url ?? srv.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: JWT,
      ...(opts.client ?? CLI),
      ...(opts.scope ? { scope: opts.scope } : {}),
      ...opts.extra,
    }).toString(),
  });
  return {
    status: res.status,
    headers: res.headers,
    json: (await res.json()) as Record<string, unknown>,
  };
}

function binding(sub: string, width: WorkloadBinding['width'] = 'subject'): WorkloadBinding {
  return { issuer: github.url, audience: AUDIENCE, sub, width };
}

/** A grant through a real handoff (an admin approves at the sandbox), then bound to a job. */
async function boundGrant(
  bind: WorkloadBinding,
  opts: { client?: Client; scope?: string } = {},
): Promise<{ id: string; accessToken: string; refreshToken: string }> {
  const tokens = await deliveredTokens(srv.url, opts);
  const id = String((tokens.webex_scoped_tokens as Record<string, unknown>).grant_id);
  assert.ok(await setGrantBinding(srv.flow, id, bind));
  return {
    id,
    accessToken: String(tokens.access_token),
    refreshToken: String(tokens.refresh_token),
  };
}

function assertRefused(answer: Answer, error: string, message: RegExp): void {
  assert.equal(answer.status, 400, JSON.stringify(answer.json));
  assert.deepEqual(Object.keys(answer.json).sort(), ['error', 'error_description']);
  assert.equal(answer.json.error, error);
  assert.match(String(answer.json.error_description), message);
}

describe('a bound job exchanges its ID token', () => {
  let grant: { id: string; accessToken: string; refreshToken: string };
  beforeAll(async () => {
    grant = await boundGrant(binding(MAIN), {
      scope: 'spark-admin:people_read spark-admin:licenses_read',
    });
  });

  test('metadata lists the grant type', async () => {
    const res = await fetch(`${srv.url}/.well-known/oauth-authorization-server`);
    const meta = (await res.json()) as { grant_types_supported: string[] };
    assert.ok(meta.grant_types_supported.includes(EXCHANGE));
    const off = authorizationServerMetadata(loadConfig({ NODE_ENV: 'test' }));
    assert.ok(!off.grant_types_supported.includes(EXCHANGE), 'not without WORKLOAD_ISSUERS');
  });

  test("the answer: the grant's access token, RFC 8693 fields, no refresh token, no-store", async () => {
    const webexCalls = srv.sandbox.calls.refresh;
    const answer = await exchange(await mint(github));
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal(answer.json.access_token, grant.accessToken);
    assert.equal(answer.json.issued_token_type, ACCESS_TOKEN);
    assert.equal(answer.json.token_type, 'Bearer');
    assert.equal(answer.json.scope, 'spark-admin:people_read spark-admin:licenses_read');
    assert.ok(Number(answer.json.expires_in) > 1_200_000, String(answer.json.expires_in));
    assert.equal('refresh_token' in answer.json, false);
    assert.equal('refresh_token_expires_in' in answer.json, false);
    assert.deepEqual(answer.json.webex_scoped_tokens, { grant_id: grant.id });
    assert.equal(srv.sandbox.calls.refresh, webexCalls, 'a young access token is not renewed');

    const view = await getGrant(srv.flow, grant.id);
    assert.equal(view?.useCount, 1);
    assert.equal(view?.lastUsedFrom, '127.0.0.1');
  });

  test('the audit line names the grant and the job, never a token', async () => {
    await exchange(await mint(github));
    const line = events(srv.logs, 'workload_exchanged').at(-1)!;
    assert.equal(line.grant, grant.id);
    assert.equal(line.client, 'cli');
    assert.deepEqual(line.job, {
      issuer: 'github',
      sub: MAIN,
      repository: 'octo-org/octo-repo',
      ref: 'refs/heads/main',
      workflow: 'deploy',
      actor: 'octocat',
      run: '987654321',
    });
    assert.equal(line.binding, 'subject');
    const { values } = await srv.metrics.workloadExchanges.get();
    assert.ok(values.some((v) => v.labels.outcome === 'ok' && v.value >= 2));
  });

  test('exchanges and refreshes of one grant at the same moment keep each other', async () => {
    const sub = 'repo:octo-org/busy:ref:refs/heads/main';
    const busy = await boundGrant(binding(sub));
    const tokens = await Promise.all(
      Array.from({ length: 8 }, () => mint(github, { subject: sub })),
    );
    const [rotated, ...answers] = await Promise.all([
      refresh(srv.url, busy.refreshToken),
      ...tokens.map((t) => exchange(t)),
    ]);
    assert.equal(rotated!.status, 200, JSON.stringify(rotated!.json));
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.json));
    const view = await getGrant(srv.flow, busy.id);
    assert.equal(view?.useCount, 9, 'no use was lost');
    // The rotation was not undone by an exchange: its new refresh token is the current one.
    const next = await refresh(srv.url, String(rotated!.json.refresh_token));
    assert.equal(next.status, 200, JSON.stringify(next.json));
    assert.equal((await getGrant(srv.flow, busy.id))?.state, 'active');

    // HTTP requests rarely overlap this closely; updates called together do.
    const repo = new GrantRepository(srv.flow);
    const before = (await repo.load(busy.id))!.useCount;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        repo.update(busy.id, (c) => ({ ...c, useCount: c.useCount + 1 })),
      ),
    );
    assert.equal((await repo.load(busy.id))!.useCount, before + 20, 'updates never overlap');
  });

  test('a GitLab job bound to its project exchanges too', async () => {
    const sub = 'project_path:my-group/my-project:ref_type:branch:ref:main';
    const bound = await boundGrant({
      issuer: gitlab.url,
      audience: AUDIENCE,
      sub,
      width: 'subject',
    });
    const token = await gitlab.mintGitlab();
    minted.push(token);
    const answer = await exchange(token);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.json.access_token, bound.accessToken);
    const job = events(srv.logs, 'workload_exchanged').at(-1)!.job as Record<string, unknown>;
    assert.equal(job.repository, 'my-group/my-project');
    assert.equal(job.run, '1212');
  });

  test('scope chooses among the grants of a job and never exceeds them', async () => {
    const sub = 'repo:octo-org/scoped:ref:refs/heads/main';
    const narrow = await boundGrant(binding(sub), { scope: 'spark-admin:people_read' });
    const wide = await boundGrant(binding(sub), {
      scope: 'spark-admin:people_read spark-admin:licenses_read',
    });
    const small = await exchange(await mint(github, { subject: sub }), {
      scope: 'spark-admin:people_read',
    });
    assert.equal(small.status, 200, JSON.stringify(small.json));
    assert.equal(small.json.access_token, narrow.accessToken, 'the grant holding the least');
    assert.equal(small.json.scope, 'spark-admin:people_read');

    const licenses = await exchange(await mint(github, { subject: sub }), {
      scope: 'spark-admin:licenses_read',
    });
    assert.equal(licenses.status, 200, JSON.stringify(licenses.json));
    assert.equal(licenses.json.access_token, wide.accessToken);
    // The scopes the token really carries: Webex cannot narrow a token.
    assert.equal(licenses.json.scope, 'spark-admin:people_read spark-admin:licenses_read');

    const token = await mint(github, { subject: sub });
    const beyond = await exchange(token, { scope: 'spark-admin:people_read spark:all' });
    assertRefused(beyond, 'invalid_scope', /ask for at most those scopes/);
    // A refusal leaves the ID token unused: the same one still works within the grant.
    assert.equal((await exchange(token)).status, 200);
  });
});

describe('refusals, each by itself; none revokes the grant', () => {
  let grant: { id: string; accessToken: string; refreshToken: string };
  const sub = 'repo:octo-org/guarded:ref:refs/heads/main';
  const job = { repository: 'octo-org/guarded' };
  beforeAll(async () => {
    grant = await boundGrant(binding(sub));
  });

  test('a replayed jti', async () => {
    const token = await mint(github, job);
    assert.equal((await exchange(token)).status, 200);
    assertRefused(
      await exchange(token),
      'invalid_grant',
      /already used; each one is accepted once/,
    );
  });

  test('another branch', async () => {
    const answer = await exchange(await mint(github, { ...job, branch: 'feature' }));
    assertRefused(
      answer,
      'invalid_grant',
      /^No grant is bound to this job \(github repository octo-org\/guarded, ref refs\/heads\/feature\): run "webex-token login --oidc github"/,
    );
  });

  test('another repository', async () => {
    const answer = await exchange(await mint(github, { repository: 'octo-org/guarded-evil' }));
    assertRefused(answer, 'invalid_grant', /No grant is bound to this job/);
  });

  test('a wrong audience', async () => {
    const answer = await exchange(
      await mint(github, { ...job, claims: { aud: 'https://elsewhere.example' } }),
    );
    assertRefused(answer, 'invalid_grant', /another audience/);
  });

  test('an expired token', async () => {
    const t = seconds();
    const token = await mint(github, {
      ...job,
      claims: { iat: t - 400, nbf: t - 400, exp: t - 100 },
    });
    assertRefused(await exchange(token), 'invalid_grant', /has expired/);
  });

  test('a token not yet valid', async () => {
    const token = await mint(github, { ...job, claims: { nbf: seconds() + 600 } });
    assertRefused(await exchange(token), 'invalid_grant', /not valid yet/);
  });

  test('a key the issuer does not publish', async () => {
    const token = await mint(github, { ...job, key: await github.newKey() });
    assertRefused(await exchange(token), 'invalid_grant', /key that github does not publish/);
  });

  test('alg none', async () => {
    const token = github.unsigned({ alg: 'none', typ: 'JWT' }, { sub });
    assertRefused(await exchange(token), 'invalid_grant', /algorithm this service does not accept/);
  });

  test('an issuer that is not configured, whose keys are never fetched', async () => {
    const token = await mint(stranger, job);
    assertRefused(await exchange(token), 'invalid_grant', /issuer this service does not trust/);
    assert.equal(stranger.hits.discovery + stranger.hits.jwks, 0);
  });

  test('another client', async () => {
    const answer = await exchange(await mint(github, job), { client: NIGHTLY });
    assertRefused(answer, 'invalid_grant', /issued to another client than "nightly"/);
  });

  test('a wrong subject_token_type, or none', async () => {
    const token = await mint(github, job);
    const access = await exchange(token, { extra: { subject_token_type: ACCESS_TOKEN } });
    assertRefused(access, 'invalid_request', /subject_token_type must be/);
    assertRefused(await exchange(''), 'invalid_request', /subject_token .* is required/);
    assert.equal((await exchange(token)).status, 200, 'the token was not used up');
  });

  test('an org no longer allowed', async () => {
    const other = 'repo:octo-org/other-org:ref:refs/heads/main';
    await issueGrant(
      srv.flow,
      {
        clientId: 'cli',
        clientName: 'webex-token CLI',
        scopes: ['spark-admin:people_read'],
        requester: { address: '127.0.0.1', userAgent: 'test', workload: binding(other) },
        approver: { email: 'someone@elsewhere.example', orgId: 'another-org' },
      },
      {
        access_token: 'XCHG_AT_other',
        token_type: 'Bearer',
        expires_in: 1209599,
        refresh_token: 'XCHG_RT_other',
        refresh_token_expires_in: 7776000,
      },
    );
    const answer = await exchange(await mint(github, { subject: other }));
    assertRefused(answer, 'invalid_grant', /ALLOWED_ORG_IDS/);
  });

  test('a grant made with REFRESH_TOKENS=webex: the service holds no token to hand out', async () => {
    const sub = 'repo:octo-org/webex-mode:ref:refs/heads/main';
    const webexMode = {
      ...srv.flow,
      config: {
        ...srv.flow.config,
        grants: { ...srv.flow.config.grants, refreshTokens: 'webex' as const },
      },
    };
    await issueGrant(
      webexMode,
      {
        clientId: 'cli',
        clientName: 'webex-token CLI',
        scopes: ['spark-admin:people_read'],
        requester: { address: '127.0.0.1', userAgent: 'test', workload: binding(sub) },
        approver: { email: 'ada.admin@sandbox.example', orgId: SANDBOX_ORG_UUID },
      },
      {
        access_token: 'XCHG_AT_webex_mode',
        token_type: 'Bearer',
        expires_in: 1209599,
        refresh_token: 'XCHG_RT_webex_mode',
        refresh_token_expires_in: 7776000,
      },
    );
    const answer = await exchange(await mint(github, { subject: sub }));
    assertRefused(answer, 'invalid_grant', /REFRESH_TOKENS=webex/);
  });

  test('after all of these the grant is active and the job still gets its token', async () => {
    assert.equal((await getGrant(srv.flow, grant.id))?.state, 'active');
    assert.equal(events(srv.logs, 'grant_revoked').filter((l) => l.grant === grant.id).length, 0);
    const answer = await exchange(await mint(github, job));
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.json.access_token, grant.accessToken);
    const failures = events(srv.logs, 'workload_exchange_failed');
    const reasons = new Set(failures.map((l) => l.reason));
    for (const reason of [
      'replayed',
      'no_binding',
      'wrong_audience',
      'expired',
      'not_yet_valid',
      'unknown_key',
      'alg_not_allowed',
      'unknown_issuer',
      'client_mismatch',
      'org_not_allowed',
    ]) {
      assert.ok(reasons.has(reason), `audited: ${reason}`);
    }
    const { values } = await srv.metrics.workloadExchanges.get();
    assert.ok(values.some((v) => v.labels.outcome === 'no_binding' && v.value > 0));
    const mismatch = failures.find((l) => l.reason === 'client_mismatch')!;
    assert.equal(mismatch.grant, grant.id);
    assert.equal((mismatch.job as Record<string, unknown>).repository, 'octo-org/guarded');
  });

  test('a revoked grant: the job is told to ask again', async () => {
    await revokeGrant(srv.flow, grant.id, { kind: 'service' });
    const answer = await exchange(await mint(github, job));
    assertRefused(answer, 'invalid_grant', /No grant is bound to this job/);
  });
});

describe('widened and changed bindings', () => {
  const repository = 'octo-org/wide';
  test('any branch: every branch of the repository, but no tag, and no look-alike', async () => {
    const grant = await boundGrant(binding(`repo:${repository}:ref:refs/heads/main`, 'any_branch'));
    const feature = await exchange(await mint(github, { repository, branch: 'feature/x' }));
    assert.equal(feature.status, 200, JSON.stringify(feature.json));
    assert.equal(feature.json.access_token, grant.accessToken);
    const tag = await exchange(
      await mint(github, { subject: `repo:${repository}:ref:refs/tags/v1` }),
    );
    assertRefused(tag, 'invalid_grant', /No grant is bound/);
    const lookAlike = await exchange(await mint(github, { repository: `${repository}-x` }));
    assertRefused(lookAlike, 'invalid_grant', /No grant is bound/);
  });

  test('repository: tags and pull requests too', async () => {
    const repo = 'octo-org/whole';
    const grant = await boundGrant(binding(`repo:${repo}:ref:refs/heads/main`, 'repository'));
    for (const subject of [`repo:${repo}:ref:refs/tags/v1`, `repo:${repo}:pull_request`]) {
      const answer = await exchange(await mint(github, { subject }));
      assert.equal(answer.status, 200, `${subject}: ${JSON.stringify(answer.json)}`);
      assert.equal(answer.json.access_token, grant.accessToken);
    }
  });

  test('narrowing a binding, then removing it, takes effect at the next exchange', async () => {
    const repo = 'octo-org/narrowed';
    const main = `repo:${repo}:ref:refs/heads/main`;
    const grant = await boundGrant(binding(main, 'any_branch'));
    assert.equal(
      (await exchange(await mint(github, { repository: repo, branch: 'dev' }))).status,
      200,
    );

    await setGrantBinding(srv.flow, grant.id, binding(main));
    const dev = await exchange(await mint(github, { repository: repo, branch: 'dev' }));
    assertRefused(dev, 'invalid_grant', /No grant is bound/);
    assert.equal((await exchange(await mint(github, { repository: repo }))).status, 200);

    await setGrantBinding(srv.flow, grant.id, null);
    assertRefused(
      await exchange(await mint(github, { repository: repo })),
      'invalid_grant',
      /No grant/,
    );
    assert.equal((await getGrant(srv.flow, grant.id))?.state, 'active', 'the grant itself stays');
  });

  test('a token that matched nothing stays usable once a grant is bound to its job', async () => {
    const sub = 'repo:octo-org/later:ref:refs/heads/main';
    const token = await mint(github, { subject: sub });
    assertRefused(await exchange(token), 'invalid_grant', /No grant is bound/);
    await boundGrant(binding(sub));
    assert.equal((await exchange(token)).status, 200);
  });
});

describe('time passes', () => {
  test('key rotation at the issuer: tokens signed with the new key are accepted', async () => {
    const sub = 'repo:octo-org/rotating:ref:refs/heads/main';
    await boundGrant(binding(sub));
    assert.equal((await exchange(await mint(github, { subject: sub }))).status, 200);
    const fetched = github.hits.jwks;
    clockMs += 31_000; // past the refetch cooldown
    await github.rotate();
    const answer = await exchange(await mint(github, { subject: sub }));
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(github.hits.jwks, fetched + 1, 'the new key set was fetched once');
  });

  test('an access token past half its life is renewed at Webex, once', async () => {
    const sub = 'repo:octo-org/aging:ref:refs/heads/main';
    const grant = await boundGrant(binding(sub));
    clockMs += 8 * DAY_MS;
    const webexCalls = srv.sandbox.calls.refresh;
    const renewed = await exchange(await mint(github, { subject: sub }));
    assert.equal(renewed.status, 200, JSON.stringify(renewed.json));
    assert.notEqual(renewed.json.access_token, grant.accessToken);
    assert.match(String(renewed.json.access_token), /^XCHG_AT_/);
    assert.equal(srv.sandbox.calls.refresh, webexCalls + 1);
    assert.ok(Number(renewed.json.expires_in) > 1_200_000);
    assert.equal(events(srv.logs, 'workload_exchanged').at(-1)?.webexCalled, true);

    const again = await exchange(await mint(github, { subject: sub }));
    assert.equal(again.json.access_token, renewed.json.access_token);
    assert.equal(srv.sandbox.calls.refresh, webexCalls + 1, 'the renewed token is kept');
    const view = await getGrant(srv.flow, grant.id);
    assert.equal(view?.expiresAt, clockMs + 30 * DAY_MS, 'an exchange keeps the grant alive');
  });

  test('Webex busy at renewal: 429 with Retry-After, the grant stays, the next run renews', async () => {
    const sub = 'repo:octo-org/busy-webex:ref:refs/heads/main';
    const grant = await boundGrant(binding(sub));
    clockMs += 8 * DAY_MS;
    srv.sandbox.faults.token = 'http429';
    try {
      const busy = await exchange(await mint(github, { subject: sub }));
      assert.equal(busy.status, 429, JSON.stringify(busy.json));
      assert.equal(busy.json.error, 'temporarily_unavailable');
      assert.ok(Number(busy.headers.get('retry-after')) > 0);
    } finally {
      srv.sandbox.faults.token = undefined;
    }
    assert.equal((await getGrant(srv.flow, grant.id))?.state, 'active');
    const later = await exchange(await mint(github, { subject: sub }));
    assert.equal(later.status, 200, JSON.stringify(later.json));
    assert.notEqual(later.json.access_token, grant.accessToken);
  });

  test('no log line holds an ID token or an access token', () => {
    const text = srv.logs.join('\n');
    for (const token of minted) {
      assert.ok(!text.includes(token.split('.')[2]!), 'an ID token signature was logged');
    }
    assert.ok(!/XCHG_AT_/.test(text), 'an access token was logged');
  });
});

describe('rate limit of failed exchanges', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({
      env: { WORKLOAD_ISSUERS: issuersEnv(), RATE_LIMIT_EXCHANGE_FAILURES: '30' },
      now: () => clockMs,
    });
  });
  afterAll(() => limited?.close());

  test('30 failures a minute are answered; the next is 429', async () => {
    for (let i = 0; i < 30; i += 1) {
      const answer = await exchange(await mint(github), { url: limited.url });
      assertRefused(answer, 'invalid_grant', /No grant is bound/);
    }
    const res = await exchange(await mint(github), { url: limited.url });
    assert.equal(res.status, 429, JSON.stringify(res.json));
    assert.ok(Number(res.headers.get('retry-after')) > 0);
  });

  test('the limit cannot be set below 30', () => {
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', RATE_LIMIT_EXCHANGE_FAILURES: '29' }),
      /RATE_LIMIT_EXCHANGE_FAILURES/,
    );
  });

  test('without WORKLOAD_ISSUERS the grant type is unsupported', async () => {
    const off = await startTestServer();
    try {
      const answer = await exchange(await mint(github), { url: off.url });
      assertRefused(answer, 'unsupported_grant_type', /WORKLOAD_ISSUERS/);
    } finally {
      await off.close();
    }
  });
});
