import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { decideAtSandbox, openApproval, pollToken, requestHandoff } from '../helpers/admin';
import { forms } from '../helpers/http';
import { dumpPrefix } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ env: { DEVICE_POLL_INTERVAL_SECONDS: '1' } });
});
afterAll(() => srv.close());

test('two admins answering the same request at once: the first answer wins, the other is told', async () => {
  const auth = await requestHandoff(srv.url);
  const userCode = String(auth.json.user_code);
  const a = await openApproval(srv.url, userCode);
  const b = await openApproval(srv.url, userCode);
  const toWebex = await Promise.all(
    [a, b].map(({ page, browser }) => {
      const approve = forms(page.body).find((f) => f.action === '/device/approve')!;
      return browser.post(`${srv.url}/device/approve`, approve.fields);
    }),
  );
  const [pageA, pageB] = await Promise.all([
    decideAtSandbox(a.browser, toWebex[0]!, 'accept'),
    decideAtSandbox(b.browser, toWebex[1]!, 'accept'),
  ]);
  const statuses = [pageA.status, pageB.status].sort();
  assert.deepEqual(statuses, [200, 409]);
  const loser = pageA.status === 409 ? pageA : pageB;
  assert.match(loser.body, /already approved or denied/);

  await new Promise((r) => setTimeout(r, 1000));
  const delivered = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
  assert.equal(delivered.status, 200);
  const issued = srv.sandbox.issued.slice(-2).map((t) => t.access_token);
  assert.ok(issued.includes(String(delivered.json.access_token)));
  const left = [...(await dumpPrefix(srv.redis!.url, srv.redis!.prefix)).keys()].filter((k) =>
    /:(result|handoff|decided):/.test(k),
  );
  assert.deepEqual(left, [], 'nothing of the handoff is left after delivery');
});

test('deny racing approve: one answer only', async () => {
  const auth = await requestHandoff(srv.url);
  const userCode = String(auth.json.user_code);
  const a = await openApproval(srv.url, userCode);
  const b = await openApproval(srv.url, userCode);
  const approve = forms(a.page.body).find((f) => f.action === '/device/approve')!;
  const toWebex = await a.browser.post(`${srv.url}/device/approve`, approve.fields);
  const deny = forms(b.page.body).find((f) => f.action === '/device/deny')!;
  const denied = await b.browser.post(`${srv.url}/device/deny`, deny.fields);
  assert.equal(denied.status, 200);
  const approved = await decideAtSandbox(a.browser, toWebex, 'accept');
  assert.ok(
    [409, 410].includes(approved.status),
    `approval after deny must not succeed (got ${approved.status})`,
  );
  const answer = await pollToken(srv.url, { device_code: String(auth.json.device_code) });
  assert.equal(answer.json.error, 'access_denied');
});
