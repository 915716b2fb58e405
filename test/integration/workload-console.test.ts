/**
 * Issue 19, the console's side of a CI binding: a bound grant shows its binding; the admin who
 * may manage it narrows it (repository → any branch → this subject) or removes it, each behind
 * a confirmation page and the console's CSRF token, with an audit line. A removed binding
 * leaves the refresh token working. A refresh saving an older record cannot undo a change.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { getGrant } from '../../src/flows/grants';
import { GrantRepository } from '../../src/flows/grants/repository';
import { decideAtSandbox, openApproval, pollToken } from '../helpers/admin';
import { events, refresh } from '../helpers/grants';
import { CookieBrowser, decodeEntities, forms, type Page } from '../helpers/http';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer';
import { startTestServer, type TestServer } from '../helpers/server';

const AUDIENCE = 'https://tokens.example.test';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const SUB = 'repo:octo-org/octo-repo:ref:refs/heads/main';
const text = (html: string) => decodeEntities(html.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ');

let issuer: TestIssuer;
let srv: TestServer;

beforeAll(async () => {
  issuer = await startTestIssuer({ audience: AUDIENCE });
  srv = await startTestServer({
    env: {
      RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000',
      RATE_LIMIT_STARTS: '1000',
      WORKLOAD_ISSUERS: JSON.stringify([
        { name: 'github', issuer: issuer.url, audience: AUDIENCE },
      ]),
    },
  });
});
afterAll(async () => {
  await srv.close();
  await issuer.close();
});

/** A CI job's handoff approved by the sandbox's admin at `width`; returns the token answer. */
async function boundGrant(width: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${srv.url}/oauth2/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: 'cli',
      scope: 'spark:people_read',
      subject_token: await issuer.mintGithub(),
      subject_token_type: JWT,
    }),
  });
  const auth = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, JSON.stringify(auth));
  const { page, browser } = await openApproval(srv.url, String(auth.user_code));
  const approve = forms(page.body).find((f) => f.action === '/device/approve')!;
  const toWebex = await browser.post(`${srv.url}/device/approve`, { ...approve.fields, width });
  const done = await decideAtSandbox(browser, toWebex, 'accept');
  assert.equal(done.status, 200, done.body.slice(0, 300));
  const tokens = await pollToken(srv.url, { device_code: String(auth.device_code) });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  return tokens.json;
}

async function signIn(decision: 'accept' | 'non-admin') {
  const browser = new CookieBrowser();
  const toWebex = await browser.get(`${srv.url}/grants/signin`);
  await decideAtSandbox(browser, toWebex, decision);
  const grants = await browser.get(`${srv.url}/grants`);
  const csrf = forms(grants.body).find((f) => f.action === '/grants/signout')?.fields.csrf ?? '';
  return { browser, grants, csrf };
}

const grantIdOf = (json: Record<string, unknown>) =>
  String((json.webex_scoped_tokens as Record<string, unknown>).grant_id);
const widthOf = async (id: string) => (await getGrant(srv.flow, id))?.requester.workload;

describe('a grant bound to a CI job, in the console', () => {
  let tokens: Record<string, unknown>;
  let id: string;
  let ada: Awaited<ReturnType<typeof signIn>>;

  beforeAll(async () => {
    tokens = await boundGrant('repository');
    id = grantIdOf(tokens);
    ada = await signIn('accept');
  });

  test('the table shows the binding and a way to change it', () => {
    const row = ada.grants.body.slice(ada.grants.body.indexOf(`id="grant-${id}"`));
    assert.match(text(row), /Verified CI job/);
    assert.match(text(row), /Every job of octo-org\/octo-repo/);
    assert.ok(row.includes(`href="/grants/${id}/binding"`));
  });

  test('the confirmation page offers only narrower widths and removal, each explained', async () => {
    const page = await ada.browser.get(`${srv.url}/grants/${id}/binding`);
    assert.equal(page.status, 200);
    const values = [...page.body.matchAll(/name="change" value="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(values, ['subject', 'any_branch', 'remove']);
    assert.match(text(page.body), /whoever can push a branch there gets these tokens/);
    assert.match(text(page.body), /refresh token keeps working/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
  });

  test('without the CSRF token, or as someone who may not manage it, nothing changes', async () => {
    const noCsrf = await ada.browser.post(`${srv.url}/grants/${id}/binding`, { change: 'subject' });
    assert.equal(noCsrf.status, 403);
    const uma = await signIn('non-admin');
    const foreign = await uma.browser.post(`${srv.url}/grants/${id}/binding`, {
      csrf: uma.csrf,
      change: 'remove',
    });
    assert.equal(foreign.status, 403);
    assert.match(text(foreign.body), /no grant with this id that you may manage/);
    assert.equal((await widthOf(id))?.width, 'repository');
  });

  test('widening or an unknown change is refused', async () => {
    for (const change of ['repository', 'everything', '']) {
      const page: Page = await ada.browser.post(`${srv.url}/grants/${id}/binding`, {
        csrf: ada.csrf,
        change,
      });
      assert.equal(page.status, 400, change);
      assert.match(text(page.body), /only be narrowed or removed/);
    }
    assert.equal((await widthOf(id))?.width, 'repository');
  });

  test('narrowing to any branch, then to the exact subject; a stale save cannot undo it', async () => {
    const stale = await new GrantRepository(srv.flow).load(id);
    const first = await ada.browser.post(`${srv.url}/grants/${id}/binding`, {
      csrf: ada.csrf,
      change: 'any_branch',
    });
    assert.equal(first.status, 303);
    assert.equal(first.location, `/grants?binding=${id}`);
    assert.equal((await widthOf(id))?.width, 'any_branch');
    const notice = await ada.browser.get(`${srv.url}${first.location}`);
    assert.match(text(notice.body), /Changed the CI binding/);

    // A refresh that read the grant before the change and saves it after.
    await new GrantRepository(srv.flow).save(stale!);
    assert.equal((await widthOf(id))?.width, 'any_branch', 'the change outlives a stale save');

    const second = await ada.browser.post(`${srv.url}/grants/${id}/binding`, {
      csrf: ada.csrf,
      change: 'subject',
    });
    assert.equal(second.status, 303);
    assert.deepEqual(await widthOf(id), {
      issuer: issuer.url,
      audience: AUDIENCE,
      sub: SUB,
      width: 'subject',
    });
    const narrowed = events(srv.logs, 'grant_binding_narrowed');
    assert.equal(narrowed.length, 2);
    assert.deepEqual(
      narrowed.map((e) => [e.from, e.to]),
      [
        ['repository', 'any_branch'],
        ['any_branch', 'subject'],
      ],
    );
    assert.equal((narrowed[0]!.job as Record<string, unknown>).repository, 'octo-org/octo-repo');
    assert.equal((narrowed[0]!.by as Record<string, unknown>).kind, 'admin');
  });

  test('removing the binding keeps the grant and its refresh token', async () => {
    const removed = await ada.browser.post(`${srv.url}/grants/${id}/binding`, {
      csrf: ada.csrf,
      change: 'remove',
    });
    assert.equal(removed.status, 303);
    const grant = await getGrant(srv.flow, id);
    assert.equal(grant?.state, 'active');
    assert.equal(grant?.requester.workload, null);
    assert.equal(events(srv.logs, 'grant_binding_removed').length, 1);

    const refreshed = await refresh(srv.url, String(tokens.refresh_token));
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    assert.equal((await getGrant(srv.flow, id))?.requester.workload, null);

    // Nothing left to change: the page sends the admin back to the table, and no link shows.
    const page = await ada.browser.get(`${srv.url}/grants/${id}/binding`);
    assert.equal(page.status, 302);
    const table = await ada.browser.get(`${srv.url}/grants`);
    assert.equal(table.body.includes(`href="/grants/${id}/binding"`), false);
    const again = await ada.browser.post(`${srv.url}/grants/${id}/binding`, {
      csrf: ada.csrf,
      change: 'subject',
    });
    assert.equal(again.status, 400);
  });

  test('no log line holds a token', () => {
    for (const value of [tokens.access_token, tokens.refresh_token]) {
      assert.equal(
        srv.logs.some((l) => l.includes(String(value))),
        false,
      );
    }
  });
});
