/**
 * How the Webex client reads Webex's answers: both error body shapes, 429/5xx as temporary
 * (with Retry-After passed on), and org ids turned into UUIDs. A stub fetch plays Webex.
 */
import assert from 'node:assert/strict';
import { describe, test } from '@jest/globals';
import { OAuthError, UpstreamError } from '../../src/errors';
import { webexErrorDetail } from '../../src/webex/answers';
import { WebexClient } from '../../src/webex/client';
import { orgApiId } from '../../src/webex/org-id';

function clientAnswering(status: number, body: unknown, headers: Record<string, string> = {}) {
  const warnings: unknown[] = [];
  const client = new WebexClient({
    authorizeUrl: 'https://webex.invalid/v1/authorize',
    tokenUrl: 'https://webex.invalid/v1/access_token',
    apiUrl: 'https://webex.invalid/v1',
    clientId: 'id',
    clientSecret: 'secret',
    redirectUri: 'https://tokens.example/oauth',
    timeoutMs: 1000,
    logger: { warn: (obj: unknown) => void warnings.push(obj) } as never,
    fetch: (async () =>
      new Response(typeof body === 'string' ? body : JSON.stringify(body), {
        status,
        headers,
      })) as typeof fetch,
  });
  return { client, warnings };
}

const webexShape = (message: string) => ({
  message,
  errors: [{ description: message }],
  trackingId: 'ROUTER_1234',
});

describe('Webex client', () => {
  test("Webex's error shape: invalid_grant and invalid_client are recognised", async () => {
    const grant = clientAnswering(400, webexShape('invalid_grant: the code expired'));
    await assert.rejects(grant.client.exchangeCode('c', 'v'), (err: unknown) => {
      assert.ok(err instanceof OAuthError);
      assert.equal(err.code, 'invalid_grant');
      return true;
    });
    assert.deepEqual(grant.warnings[0], {
      event: 'webex_error',
      endpoint: 'token',
      status: 400,
      message: 'invalid_grant: the code expired',
      trackingId: 'ROUTER_1234',
    });
    const badClient = clientAnswering(400, webexShape('invalid_client'));
    await assert.rejects(badClient.client.refresh('r'), (err: unknown) => {
      assert.equal((err as OAuthError).code, 'server_error');
      assert.match((err as Error).message, /client credentials/);
      return true;
    });
    const rfc = clientAnswering(400, { error: 'invalid_client', error_description: 'nope' });
    await assert.rejects(rfc.client.refresh('r'), { code: 'server_error' });
  });

  test('429 passes Retry-After on; 5xx is 503; neither is invalid_grant', async () => {
    const limited = clientAnswering(429, webexShape('Too many requests'), { 'retry-after': '42' });
    await assert.rejects(limited.client.refresh('r'), (err: unknown) => {
      assert.ok(err instanceof UpstreamError);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'temporarily_unavailable');
      assert.equal(err.headers['Retry-After'], '42');
      return true;
    });
    const down = clientAnswering(502, '<html>Bad gateway</html>');
    await assert.rejects(down.client.exchangeCode('c', 'v'), (err: unknown) => {
      assert.equal((err as UpstreamError).status, 503);
      assert.equal((err as UpstreamError).headers['Retry-After'], '30');
      return true;
    });
    const me = clientAnswering(429, webexShape('slow down'), {
      'retry-after': new Date(Date.now() + 20_000).toUTCString(),
    });
    await assert.rejects(me.client.me('at'), (err: unknown) => {
      const seconds = Number((err as UpstreamError).headers['Retry-After']);
      assert.ok(seconds >= 18 && seconds <= 21, `HTTP-date Retry-After: ${seconds}`);
      return true;
    });
  });

  test("people/me's base64 org id becomes the Control Hub UUID", async () => {
    const uuid = '7d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a';
    const { client } = clientAnswering(200, {
      id: 'p',
      displayName: 'A',
      emails: ['a@example.com'],
      orgId: orgApiId(uuid),
    });
    assert.equal((await client.me('at')).orgId, uuid);
  });

  test('error details: either shape, bounded, nothing else', () => {
    assert.deepEqual(webexErrorDetail({ error: 'invalid_grant', error_description: 'x' }), {
      error: 'invalid_grant',
      message: 'x',
    });
    assert.deepEqual(webexErrorDetail('not json'), {});
    const long = webexErrorDetail({ message: 'm'.repeat(5000) });
    assert.equal(long.message?.length, 300);
  });
});
