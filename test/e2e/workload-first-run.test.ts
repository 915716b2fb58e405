/**
 * Issue 19 in a real Chromium, a CI job's first run: the job asks with its ID token, the admin
 * sees the verified repository and branch apart from what the job merely claims, widens the
 * binding to any branch on purpose, approves, and the job's poll gets the tokens; the grant
 * holds the binding. Then the console shows it, and the admin narrows it to the branch and
 * removes it, each through the confirmation page. axe-core checks both new pages.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { getGrant } from '../../src/flows/grants';
import { pollToken } from '../helpers/admin';
import {
  axeViolations,
  decideAtSandbox,
  formatViolations,
  launchBrowser,
  newContext,
  screenshot,
  unlabelledFields,
} from '../helpers/browser';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer';
import { startTestServer, type TestServer } from '../helpers/server';

const AUDIENCE = 'https://tokens.example.test';
const SUB = 'repo:octo-org/octo-repo:ref:refs/heads/main';

let browser: Browser;
let issuer: TestIssuer;
let srv: TestServer;

beforeAll(async () => {
  browser = await launchBrowser(); // first: a missing browser fails before anything else starts
  issuer = await startTestIssuer({ audience: AUDIENCE });
  srv = await startTestServer({
    env: {
      RATE_LIMIT_STARTS: '1000',
      WORKLOAD_ISSUERS: JSON.stringify([
        { name: 'github', issuer: issuer.url, audience: AUDIENCE },
      ]),
    },
  });
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
  await issuer?.close();
});

async function noSeriousViolations(page: import('playwright-core').Page, name: string) {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `${name}:\n${formatViolations(violations)}`);
  assert.deepEqual(await unlabelledFields(page), [], `${name}: every field has a label`);
}

test('first run: verified job on the approval page, widened binding, delivery, then narrowed and removed in the console', async () => {
  const res = await fetch(`${srv.url}/oauth2/device_authorization`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'webex-token/1.0 (GITHUB_REPOSITORY=claimed-org/claimed-repo)',
    },
    body: new URLSearchParams({
      client_id: 'cli',
      scope: 'spark:people_read',
      subject_token: await issuer.mintGithub({ repository: 'octo-org/octo-repo', branch: 'main' }),
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    }),
  });
  const auth = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, JSON.stringify(auth));

  // bypassCSP: only so that axe-core can be injected; the pages are the same.
  const context = await newContext(browser, { srv, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(String(auth.verification_uri_complete));
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.equal(await page.locator('h1').textContent(), 'Approve this request?');

  const verified = page.locator('.verified-job');
  assert.equal(await verified.locator('h2').textContent(), 'Verified CI job');
  assert.equal(await verified.locator('.fact-repository').textContent(), 'octo-org/octo-repo');
  assert.equal(await verified.locator('.fact-ref').textContent(), 'refs/heads/main');
  assert.equal(await verified.locator('.workload-sub').textContent(), SUB);
  assert.equal(((await verified.textContent()) ?? '').includes('claimed-org'), false);
  const claimed = (await page.locator('.request').first().textContent()) ?? '';
  assert.match(claimed, /User agent \(claimed\)/);
  assert.equal(claimed.includes('octo-org/octo-repo'), false, 'verified facts are not mixed in');

  const narrowest = page.getByRole('radio', { name: /This branch only: main of octo-org/ });
  assert.equal(await narrowest.isChecked(), true, 'the narrowest binding is the default');
  const anyBranch = page.getByRole('radio', { name: /Any branch of octo-org\/octo-repo/ });
  assert.equal(await anyBranch.isChecked(), false);
  assert.match(
    (await page.locator('label.binding-choice', { has: anyBranch }).textContent()) ?? '',
    /whoever can push a branch there gets these tokens/,
  );
  await noSeriousViolations(page, 'approval page with a verified job');
  await screenshot(page, 'approve-workload');
  await anyBranch.check();

  await page.getByRole('button', { name: 'Approve and sign in with Webex' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${srv.sandboxUrl}/v1/authorize`));
  await decideAtSandbox(page, srv, 'accept');
  assert.equal(await page.locator('h1').textContent(), 'Approved for webex-token CLI');

  const tokens = await pollToken(srv.url, { device_code: String(auth.device_code), wait: '5' });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  const grantId = String((tokens.json.webex_scoped_tokens as Record<string, unknown>).grant_id);
  assert.deepEqual((await getGrant(srv.flow, grantId))?.requester.workload, {
    issuer: issuer.url,
    audience: AUDIENCE,
    sub: SUB,
    width: 'any_branch',
  });

  // The console, signed in as the admin who approved.
  await page.goto(`${srv.url}/grants`);
  await page.getByRole('link', { name: 'Sign in with Webex' }).click();
  await decideAtSandbox(page, srv, 'accept');
  await page.waitForURL(`${srv.url}/grants`);
  const row = page.locator(`#grant-${grantId}`);
  assert.match(
    (await row.locator('.workload').textContent()) ?? '',
    /Jobs on any branch of octo-org\/octo-repo/,
  );

  await row.getByRole('link', { name: /Narrow or remove the CI binding/ }).click();
  assert.equal(await page.locator('h1').textContent(), "Change this grant's CI binding?");
  await noSeriousViolations(page, 'binding page');
  await screenshot(page, 'grants-binding');
  await page.getByRole('radio', { name: new RegExp(`Only ${SUB}`) }).check();
  await page.getByRole('button', { name: 'Apply this change' }).click();
  await page.waitForURL(`${srv.url}/grants?binding=${grantId}`);
  assert.match(
    (await page.getByRole('status').textContent()) ?? '',
    /Changed the CI binding[\s\S]*Only jobs whose subject is exactly/,
  );
  assert.equal((await getGrant(srv.flow, grantId))?.requester.workload?.width, 'subject');

  await row.getByRole('link', { name: /Narrow or remove the CI binding/ }).click();
  await page.getByRole('radio', { name: 'Remove the binding' }).check();
  await page.getByRole('button', { name: 'Apply this change' }).click();
  await page.waitForURL(`${srv.url}/grants?binding=${grantId}`);
  assert.match(
    (await page.getByRole('status').textContent()) ?? '',
    /No CI job can exchange for its tokens any more/,
  );
  const grant = await getGrant(srv.flow, grantId);
  assert.equal(grant?.requester.workload, null);
  assert.equal(grant?.state, 'active', 'the grant itself stays');
  assert.equal(await row.getByRole('link', { name: /CI binding/ }).count(), 0);
  await context.close();
});
