/**
 * Issue 16, REFRESH_TOKENS=webex: scripts get Webex's own refresh token, but the service
 * refreshes only the ones it delivered, only for the client it delivered them to, and
 * re-checks the org; anything else is invalid_grant without a call to Webex.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getGrant } from '../../src/flows/grants';
import { MANY_HANDOFFS, deliveredTokens, events, refresh } from '../helpers/grants';
import {
  startSandbox,
  startTestServer,
  type RunningSandbox,
  type TestServer,
} from '../helpers/server';

const NIGHTLY = { client_id: 'nightly', client_secret: 'nightly-secret-0123456789abcdef' };
const CLIENTS = JSON.stringify([
  { id: 'cli', name: 'webex-token CLI' },
  { id: 'nightly', name: 'Nightly report', secret: NIGHTLY.client_secret },
]);

let sandbox: RunningSandbox;
let srv: TestServer;
let other: TestServer;
before(async () => {
  sandbox = await startSandbox({ tokenPrefix: 'WEBEXMODE' });
  const env = {
    ...MANY_HANDOFFS,
    REFRESH_TOKENS: 'webex',
    DEVICE_CLIENTS: CLIENTS,
    RATE_LIMIT_REFRESHES: '1000',
  };
  srv = await startTestServer({ sandbox, env });
  // Another deployment on the same Webex integration: it never delivered anything.
  other = await startTestServer({ sandbox, env });
});
after(async () => {
  await other?.close();
  await srv?.close();
  await sandbox?.close();
});

test("the script gets Webex's refresh token, and the service refreshes it for that client", async () => {
  const tokens = await deliveredTokens(srv.url);
  assert.match(String(tokens.refresh_token), /^WEBEXMODE_RT_/);
  assert.equal(tokens.scope, 'spark-admin:people_read');
  const calls = sandbox.sandbox.calls.refresh;
  const r = await refresh(srv.url, String(tokens.refresh_token));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(sandbox.sandbox.calls.refresh, calls + 1);
  assert.match(String(r.json.access_token), /^WEBEXMODE_AT_/);
  assert.equal(r.json.scope, tokens.scope, 'the granted scopes, which Webex does not send');
  // Webex does not rotate: the same token refreshes again.
  assert.equal((await refresh(srv.url, String(r.json.refresh_token))).status, 200);
  const grantId = String((r.json.webex_scoped_tokens as Record<string, unknown>).grant_id);
  const grant = await getGrant(srv.flow, grantId);
  assert.equal(grant?.mode, 'webex');
  assert.equal(grant?.useCount, 2);
});

test('a Webex refresh token the service never delivered is refused without a call to Webex', async () => {
  const tokens = await deliveredTokens(srv.url);
  const calls = sandbox.sandbox.calls.refresh;
  const r = await refresh(other.url, String(tokens.refresh_token));
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
  assert.equal(sandbox.sandbox.calls.refresh, calls, 'not one call to Webex');
  assert.equal(events(other.logs, 'grant_refresh_failed').at(-1)?.reason, 'unknown_token');
});

test('only for the client it was delivered to; revocation stops it', async () => {
  const tokens = await deliveredTokens(srv.url, { client: NIGHTLY });
  const calls = sandbox.sandbox.calls.refresh;
  const r = await refresh(srv.url, String(tokens.refresh_token));
  assert.equal(r.json.error, 'invalid_grant');
  assert.equal(sandbox.sandbox.calls.refresh, calls);
  assert.equal(
    (await refresh(srv.url, String(tokens.refresh_token), { client: NIGHTLY })).status,
    200,
  );

  const revoked = await fetch(`${srv.url}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      ...NIGHTLY,
      token: String(tokens.refresh_token),
      token_type_hint: 'refresh_token',
    }).toString(),
  });
  assert.equal(revoked.status, 200);
  const after = await refresh(srv.url, String(tokens.refresh_token), { client: NIGHTLY });
  assert.equal(after.json.error, 'invalid_grant');
  assert.equal(sandbox.sandbox.calls.refresh, calls + 1, 'the refused ones never reached Webex');
});
