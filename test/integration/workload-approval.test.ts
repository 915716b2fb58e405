/**
 * Issue 19, bind at approval: a device authorization carrying a CI job's ID token is verified
 * before the handoff exists (each kind of bad token refused by itself, nothing created), the
 * approval page shows the verified job apart from the claims, the chosen width is checked,
 * and the delivered grant holds the binding. Real service, real Redis, a loopback issuer.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { getGrant } from '../../src/flows/grants';
import { decideAtSandbox, openApproval, pollToken } from '../helpers/admin';
import { MANY_HANDOFFS } from '../helpers/grants';
import { decodeEntities, forms } from '../helpers/http';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer';
import { startTestServer, type TestServer } from '../helpers/server';

const AUDIENCE = 'https://tokens.example.test';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const text = (html: string) => decodeEntities(html.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ');

async function authorize(srv: TestServer, extra: Record<string, string>) {
  const res = await fetch(`${srv.url}/oauth2/device_authorization`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'webex-token/1.0 (claims: GITHUB_REPOSITORY=someone/else)',
    },
    body: new URLSearchParams({ client_id: 'cli', scope: 'spark-admin:people_read', ...extra }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function handoffsRequested(srv: TestServer): Promise<number> {
  const values = (await srv.metrics.handoffs.get()).values;
  return values.filter((v) => v.labels.event === 'requested').reduce((n, v) => n + v.value, 0);
}

async function flowsStarted(srv: TestServer): Promise<number> {
  return (await srv.metrics.flowsStarted.get()).values.reduce((n, v) => n + v.value, 0);
}

/** Enter the code, post Approve with `width` (omitted when undefined), sign in, pick up. */
async function approveWith(srv: TestServer, userCode: string, width: string | undefined) {
  const { page, browser } = await openApproval(srv.url, userCode);
  const approve = forms(page.body).find((f) => f.action === '/device/approve');
  assert.ok(approve, `approval form: ${page.body.slice(0, 300)}`);
  const fields = width === undefined ? approve.fields : { ...approve.fields, width };
  const toWebex = await browser.post(`${srv.url}/device/approve`, fields);
  return { page, toWebex, browser };
}

describe('device authorization with a CI ID token (bind at approval)', () => {
  let issuer: TestIssuer;
  let stranger: TestIssuer;
  let srv: TestServer;

  beforeAll(async () => {
    issuer = await startTestIssuer({ audience: AUDIENCE });
    stranger = await startTestIssuer({ audience: AUDIENCE });
    srv = await startTestServer({
      env: {
        ...MANY_HANDOFFS,
        WORKLOAD_ISSUERS: JSON.stringify([
          { name: 'github', issuer: issuer.url, audience: AUDIENCE },
        ]),
      },
    });
  });

  afterAll(async () => {
    await srv.close();
    await Promise.all([issuer.close(), stranger.close()]);
  });

  test('a valid token: the page shows the verified job apart from the claims; approval binds the grant', async () => {
    const token = await issuer.mintGithub({ repository: 'octo-org/octo-repo', branch: 'main' });
    const auth = await authorize(srv, { subject_token: token, subject_token_type: JWT });
    assert.equal(auth.status, 200, JSON.stringify(auth.json));

    const { page, toWebex, browser } = await approveWith(
      srv,
      String(auth.json.user_code),
      'any_branch',
    );
    const shown = text(page.body);
    const verified = shown.slice(shown.indexOf('Verified CI job'));
    assert.match(verified, /github/);
    assert.match(verified, /repo:octo-org\/octo-repo:ref:refs\/heads\/main/);
    for (const fact of [
      'octo-org/octo-repo',
      'refs/heads/main',
      'deploy',
      'octocat',
      '987654321',
    ]) {
      assert.ok(verified.includes(fact), `verified block shows ${fact}`);
    }
    // The claimed user agent sits in "Who is asking", before the verified block.
    assert.ok(shown.indexOf('User agent (claimed)') < shown.indexOf('Verified CI job'));
    assert.equal(verified.includes('someone/else'), false, 'claims stay out of the verified block');
    assert.match(shown, /This branch only: main of octo-org\/octo-repo/);
    assert.match(shown, /Any branch of octo-org\/octo-repo/);
    assert.match(shown, /whoever can push a branch there gets these tokens/);
    assert.match(page.body, /<input[^>]*value="subject"[^>]*checked/, 'narrowest is the default');

    const done = await decideAtSandbox(browser, toWebex, 'accept');
    assert.equal(done.status, 200, done.body.slice(0, 300));
    const tokens = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
    const grantId = (tokens.json.webex_scoped_tokens as { grant_id: string }).grant_id;
    const grant = await getGrant(srv.flow, grantId);
    assert.deepEqual(grant?.requester.workload, {
      issuer: issuer.url,
      audience: AUDIENCE,
      sub: 'repo:octo-org/octo-repo:ref:refs/heads/main',
      width: 'any_branch',
    });

    const audit = srv.logs.filter((l) => /handoff_(requested|approved)/.test(l));
    assert.equal(audit.length, 2);
    for (const line of audit) {
      assert.match(line, /"repository":"octo-org\/octo-repo"/);
      assert.match(line, /"run":"987654321"/);
    }
    const signature = token.split('.')[2]!;
    assert.equal(
      srv.logs.some((l) => l.includes(signature) || l.includes(token.split('.')[1]!)),
      false,
      'no log line holds the token',
    );
  });

  test('approving without choosing binds to exactly this subject (GitLab-shaped)', async () => {
    const token = await issuer.mintGitlab({ project: 'grp/sub/proj', branch: 'release' });
    const auth = await authorize(srv, { subject_token: token, subject_token_type: JWT });
    assert.equal(auth.status, 200, JSON.stringify(auth.json));
    const { page, toWebex, browser } = await approveWith(
      srv,
      String(auth.json.user_code),
      undefined,
    );
    assert.match(text(page.body), /project_path grp\/sub\/proj/);
    assert.match(text(page.body), /pipeline_id 1212/);
    await decideAtSandbox(browser, toWebex, 'accept');
    const tokens = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
    const grantId = (tokens.json.webex_scoped_tokens as { grant_id: string }).grant_id;
    const grant = await getGrant(srv.flow, grantId);
    assert.equal(grant?.requester.workload?.width, 'subject');
    assert.equal(
      grant?.requester.workload?.sub,
      'project_path:grp/sub/proj:ref_type:branch:ref:release',
    );
  });

  test('a request without a token stays an ordinary one, with no binding', async () => {
    const auth = await authorize(srv, {});
    assert.equal(auth.status, 200);
    const { page } = await openApproval(srv.url, String(auth.json.user_code));
    assert.equal(text(page.body).includes('Verified CI job'), false);
    assert.equal(page.body.includes('name="width"'), false);
  });

  const refusals: [string, () => Promise<Record<string, string>>, string, RegExp][] = [
    [
      'signed with a key the issuer does not publish',
      async () => ({ subject_token: await issuer.mintGithub({ key: await issuer.newKey() }) }),
      'invalid_grant',
      /key/,
    ],
    [
      'a signature that does not verify',
      async () => {
        const [h, p, s] = (await issuer.mintGithub()).split('.');
        const flipped = (s![0] === 'A' ? 'B' : 'A') + s!.slice(1);
        return { subject_token: `${h}.${p}.${flipped}` };
      },
      'invalid_grant',
      /signature/,
    ],
    [
      'another audience',
      async () => ({ subject_token: await issuer.mintGithub({ claims: { aud: 'https://x' } }) }),
      'invalid_grant',
      /audience/,
    ],
    [
      'expired',
      async () => {
        const t = Math.floor(Date.now() / 1000);
        const claims = { iat: t - 600, nbf: t - 600, exp: t - 120 };
        return { subject_token: await issuer.mintGithub({ claims }) };
      },
      'invalid_grant',
      /expired/,
    ],
    [
      'alg none',
      async () => ({ subject_token: issuer.unsigned({ alg: 'none', typ: 'JWT' }) }),
      'invalid_grant',
      /algorithm/,
    ],
    [
      'an issuer the service does not trust',
      async () => ({ subject_token: await stranger.mintGithub() }),
      'invalid_grant',
      /does not trust/,
    ],
    [
      'no subject_token_type',
      async () => ({ subject_token: await issuer.mintGithub(), subject_token_type: '' }),
      'invalid_request',
      /subject_token_type/,
    ],
    [
      'another subject_token_type',
      async () => ({
        subject_token: await issuer.mintGithub(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      }),
      'invalid_request',
      /subject_token_type/,
    ],
    [
      'a type but no token',
      async () => ({ subject_token_type: JWT }),
      'invalid_request',
      /subject_token is missing/,
    ],
  ];

  test.each(refusals)('refused, with no handoff created: %s', async (_name, make, error, says) => {
    const form = { subject_token_type: JWT, ...(await make()) };
    if (form.subject_token_type === '') delete (form as Record<string, string>).subject_token_type;
    const before = await handoffsRequested(srv);
    const auth = await authorize(srv, form);
    assert.equal(auth.status, 400, JSON.stringify(auth.json));
    assert.equal(auth.json.error, error);
    assert.match(String(auth.json.error_description), says);
    assert.equal(auth.json.device_code, undefined);
    assert.equal(await handoffsRequested(srv), before, 'no handoff exists');
  });

  test('a replayed token (same jti) is refused the second time', async () => {
    const token = await issuer.mintGithub();
    const first = await authorize(srv, { subject_token: token, subject_token_type: JWT });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const before = await handoffsRequested(srv);
    const again = await authorize(srv, { subject_token: token, subject_token_type: JWT });
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
    assert.match(String(again.json.error_description), /already used/);
    assert.equal(await handoffsRequested(srv), before);
  });

  test('the width is checked against what the subject allows, before any sign-in starts', async () => {
    // A subject of no known shape can only be bound exactly.
    const custom = await issuer.mint();
    const customAuth = await authorize(srv, { subject_token: custom, subject_token_type: JWT });
    assert.equal(customAuth.status, 200, JSON.stringify(customAuth.json));
    const github = await issuer.mintGithub();
    const githubAuth = await authorize(srv, { subject_token: github, subject_token_type: JWT });
    const plain = await authorize(srv, {});

    const cases: [Record<string, unknown>, string, RegExp][] = [
      [githubAuth.json, 'everything', /not one this CI job can be given/],
      [customAuth.json, 'repository', /not one this CI job can be given/],
      [customAuth.json, 'any_branch', /not one this CI job can be given/],
      [plain.json, 'subject', /no verified CI job/],
    ];
    for (const [auth, width, says] of cases) {
      const started = await flowsStarted(srv);
      const { toWebex } = await approveWith(srv, String(auth.user_code), width);
      assert.equal(toWebex.status, 400, `${width}: ${toWebex.body.slice(0, 200)}`);
      assert.match(text(toWebex.body), says);
      assert.equal(await flowsStarted(srv), started, 'no sign-in started');
    }
    // The one width it allows goes on to Webex.
    const { toWebex } = await approveWith(srv, String(customAuth.json.user_code), 'subject');
    assert.equal(toWebex.status, 302);
    const { page } = await openApproval(srv.url, String(customAuth.json.user_code));
    assert.match(text(page.body), /Only jobs with exactly this subject/);
  });
});

describe('a service with no WORKLOAD_ISSUERS', () => {
  let issuer: TestIssuer;
  let srv: TestServer;
  beforeAll(async () => {
    issuer = await startTestIssuer({ audience: AUDIENCE });
    srv = await startTestServer({ env: { WORKLOAD_ISSUERS: '' } });
  });
  afterAll(async () => {
    await srv.close();
    await issuer.close();
  });

  test('refuses a subject_token plainly, never as an unverified request', async () => {
    const auth = await authorize(srv, {
      subject_token: await issuer.mintGithub(),
      subject_token_type: JWT,
    });
    assert.equal(auth.status, 400);
    assert.equal(auth.json.error, 'invalid_request');
    assert.match(String(auth.json.error_description), /does not accept CI identities/);
    assert.equal(issuer.hits.discovery + issuer.hits.jwks, 0, 'the issuer was never asked');
  });
});
