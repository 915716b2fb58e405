/**
 * Issue 13, abandoned requests: the RFC 7009 revocation endpoint cancels a handoff by its device
 * code (the admin is then told the script gave up, and cannot approve), and the page shown after
 * approval follows the handoff through its status endpoint (approved → delivered, cancelled, or
 * never picked up).
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type { FlowDeps } from '../../src/flows/context';
import { Sealer } from '../../src/crypto';
import { handoffState } from '../../src/flows/device';
import {
  approveHandoff,
  decideAtSandbox,
  openApproval,
  pollToken,
  requestHandoff,
} from '../helpers/admin';
import { basicAuth, decodeEntities, forms } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';

const text = (html: string) => decodeEntities(html.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ');

const CLIENTS = JSON.stringify([
  { id: 'cli', name: 'webex-token CLI' },
  { id: 'nightly', name: 'Nightly report', secret: 'nightly-secret-0123456789abcdef' },
]);

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    env: { DEVICE_CLIENTS: CLIENTS, RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000' },
  });
});
afterAll(() => srv?.close());

async function revoke(
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`${srv.url}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

async function statusOf(
  statusUrl: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${srv.url}${statusUrl}`, { headers: { accept: 'application/json' } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function statusUrlIn(html: string): string {
  const m = /data-status-url="(\/device\/status\/[A-Za-z0-9_-]{43})"/.exec(html);
  assert.ok(m?.[1], `the page after approval names its status URL: ${html.slice(0, 300)}`);
  return m[1];
}

describe('metadata', () => {
  test('publishes the revocation endpoint and its client authentication', async () => {
    const meta = (await (
      await fetch(`${srv.url}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    assert.equal(meta.revocation_endpoint, `${srv.url}/oauth2/revoke`);
    assert.deepEqual(meta.revocation_endpoint_auth_methods_supported, [
      'none',
      'client_secret_basic',
      'client_secret_post',
    ]);
  });
});

describe('cancelling a pending handoff (token_type_hint=device_code)', () => {
  test('answers 200; the admin who then enters the code is told the script gave up; the script gets invalid_grant', async () => {
    const auth = await requestHandoff(srv.url);
    const deviceCode = String(auth.json.device_code);
    const userCode = String(auth.json.user_code);

    const res = await revoke({
      token: deviceCode,
      token_type_hint: 'device_code',
      client_id: 'cli',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');

    const { page } = await openApproval(srv.url, userCode);
    assert.equal(page.status, 410);
    assert.match(text(page.body), /The script gave up/);
    assert.match(text(page.body), /gave up waiting .* can no longer be approved/);
    assert.equal(
      forms(page.body).find((f) => f.action === '/device/approve'),
      undefined,
      'no Approve button',
    );

    const poll = await pollToken(srv.url, { device_code: deviceCode });
    assert.equal(poll.status, 400);
    assert.equal(poll.json.error, 'invalid_grant');
    assert.match(String(poll.json.error_description), /revoked/);
  });

  test('an admin already on the approval page cannot approve after the cancellation', async () => {
    const auth = await requestHandoff(srv.url);
    const { page, browser } = await openApproval(srv.url, String(auth.json.user_code));
    const approve = forms(page.body).find((f) => f.action === '/device/approve');
    assert.ok(approve, 'the approval page is shown while the request is pending');

    await revoke({
      token: String(auth.json.device_code),
      token_type_hint: 'device_code',
      client_id: 'cli',
    });

    const pressed = await browser.post(`${srv.url}/device/approve`, approve.fields);
    assert.equal(pressed.status, 410);
    assert.match(text(pressed.body), /The script gave up/);
    assert.equal(pressed.location, null, 'not sent to Webex');
  });

  test('an admin already signing in at Webex is told the script gave up when she comes back', async () => {
    const auth = await requestHandoff(srv.url);
    const { page, browser } = await openApproval(srv.url, String(auth.json.user_code));
    const approve = forms(page.body).find((f) => f.action === '/device/approve')!;
    const toWebex = await browser.post(`${srv.url}/device/approve`, approve.fields);
    await revoke({ token: String(auth.json.device_code), client_id: 'cli' }); // no hint: found anyway
    const back = await decideAtSandbox(browser, toWebex, 'accept');
    assert.equal(back.status, 410);
    assert.match(text(back.body), /The script gave up/);
    const poll = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
    assert.equal(poll.json.error, 'invalid_grant', 'nothing was delivered');
  });

  test('another client cannot cancel it (200, nothing happens)', async () => {
    const auth = await requestHandoff(srv.url);
    const res = await revoke(
      { token: String(auth.json.device_code), token_type_hint: 'device_code' },
      {
        authorization: basicAuth('nightly', 'nightly-secret-0123456789abcdef'),
      },
    );
    assert.equal(res.status, 200);
    const done = await approveHandoff(srv.url, String(auth.json.user_code));
    assert.equal(done.status, 200, 'still approvable');
  });
});

describe('RFC 7009 answers', () => {
  test('an unknown token, or another type of token: 200 and nothing else', async () => {
    for (const hint of [
      'device_code',
      'refresh_token',
      'access_token',
      'no_such_type',
      undefined,
    ]) {
      const res = await revoke({
        token: 'not-a-token-this-service-knows',
        client_id: 'cli',
        ...(hint ? { token_type_hint: hint } : {}),
      });
      assert.equal(res.status, 200, `hint ${hint}`);
    }
  });

  test('client authentication as at the token endpoint; token is required', async () => {
    const unknown = await revoke({ token: 'x', client_id: 'nobody' });
    assert.equal(unknown.status, 400);
    assert.equal(JSON.parse(unknown.body).error, 'invalid_client');

    const wrongSecret = await revoke(
      { token: 'x' },
      { authorization: basicAuth('nightly', 'wrong') },
    );
    assert.equal(wrongSecret.status, 401);
    assert.equal(JSON.parse(wrongSecret.body).error, 'invalid_client');

    const noToken = await revoke({ client_id: 'cli' });
    assert.equal(noToken.status, 400);
    assert.equal(JSON.parse(noToken.body).error, 'invalid_request');
  });

  test('openid-client (unmodified) cancels a handoff with tokenRevocation', async () => {
    const oc = await import('openid-client');
    const config = await oc.discovery(new URL(srv.url), 'cli', undefined, oc.None(), {
      execute: [oc.allowInsecureRequests],
      algorithm: 'oauth2',
    });
    const auth = await oc.initiateDeviceAuthorization(config, { scope: 'spark-admin:people_read' });
    await oc.tokenRevocation(config, auth.device_code, { token_type_hint: 'device_code' });
    const { page } = await openApproval(srv.url, auth.user_code);
    assert.equal(page.status, 410);
    assert.match(text(page.body), /The script gave up/);
  });
});

describe('the page after approval follows the handoff', () => {
  test('approved, waiting for the script; then delivered', async () => {
    const auth = await requestHandoff(srv.url);
    const done = await approveHandoff(srv.url, String(auth.json.user_code));
    assert.equal(done.status, 200);
    assert.match(text(done.body), /Approved; waiting for the script to pick the tokens up/);
    const url = statusUrlIn(done.body);
    assert.ok(!url.includes(String(auth.json.device_code)));

    const before = await statusOf(url);
    assert.equal(before.status, 200);
    assert.equal(before.json.state, 'approved');

    const poll = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
    assert.equal(poll.status, 200);
    const afterPoll = await statusOf(url);
    assert.equal(afterPoll.json.state, 'delivered');
    assert.match(String(afterPoll.json.message), /^Delivered/);
  });

  test('cancelled after approval: the tokens are discarded and the page says the script gave up', async () => {
    const auth = await requestHandoff(srv.url);
    const done = await approveHandoff(srv.url, String(auth.json.user_code));
    const url = statusUrlIn(done.body);
    await revoke({
      token: String(auth.json.device_code),
      token_type_hint: 'device_code',
      client_id: 'cli',
    });
    const state = await statusOf(url);
    assert.equal(state.json.state, 'cancelled');
    assert.match(String(state.json.message), /gave up .* discarded/);
    const poll = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
    assert.equal(poll.json.error, 'invalid_grant');
  });

  test('never picked up: past the expiry the state says so (clock moved, not waited for)', async () => {
    const auth = await requestHandoff(srv.url);
    const done = await approveHandoff(srv.url, String(auth.json.user_code));
    const watch = statusUrlIn(done.body).split('/').pop()!;
    const at = (ms: number) =>
      handoffState(
        {
          store: srv.store,
          sealer: new Sealer(srv.config.encryptionKeys),
          metrics: srv.metrics,
          now: () => ms,
        } as unknown as FlowDeps,
        watch,
      );
    assert.equal(await at(Date.now()), 'approved');
    const ttl = srv.config.device.ttlSeconds * 1000;
    assert.equal(await at(Date.now() + ttl + 1000), 'expired');
  });

  test('an unknown or malformed status id: 404 with a JSON answer', async () => {
    const unknown = await statusOf(`/device/status/${'A'.repeat(43)}`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.state, 'unknown');
    const bad = await fetch(`${srv.url}/device/status/..%2Fx`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(bad.status, 404);
  });
});
