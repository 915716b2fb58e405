/**
 * Issue 16 on a Redis Cluster (3 masters, 3 replicas): a grant's keys land on different nodes,
 * and rotation, reuse detection, revocation and the console's indexes work all the same (every
 * grant operation touches one key; the atomic ones are set-if-absent).
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { getGrant, listGrantsForApprover } from '../../src/flows/grants';
import { MANY_HANDOFFS, deliveredTokens, events, refresh } from '../helpers/grants';
import { uniquePrefix } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';
import { TestCluster } from './servers';

const cluster = new TestCluster();
let srv: TestServer;
beforeAll(async () => {
  await cluster.start();
  srv = await startTestServer({
    redisUrl: cluster.url,
    redisPrefix: uniquePrefix('grants-cluster'),
    env: {
      ...MANY_HANDOFFS,
      RATE_LIMIT_REFRESHES: '1000',
      REDIS_MODE: 'cluster',
      REDIS_WAIT_REPLICAS: '1',
    },
  });
});
afterAll(async () => {
  await srv?.close();
  await cluster.stop();
});

test('delivery, rotation, reuse detection and the console index on a cluster', async () => {
  const tokens = await deliveredTokens(srv.url);
  const id = String((tokens.webex_scoped_tokens as Record<string, unknown>).grant_id);
  const r1 = await refresh(srv.url, String(tokens.refresh_token));
  assert.equal(r1.status, 200, JSON.stringify(r1.json));
  const r2 = await refresh(srv.url, String(r1.json.refresh_token));
  assert.equal(r2.status, 200, JSON.stringify(r2.json));
  assert.ok(
    (await listGrantsForApprover(srv.flow, 'ada.admin@sandbox.example')).some((g) => g.id === id),
  );
  const reuse = await refresh(srv.url, String(tokens.refresh_token));
  assert.equal(reuse.json.error, 'invalid_grant');
  assert.equal(events(srv.logs, 'grant_reuse_detected').length, 1);
  assert.equal((await refresh(srv.url, String(r2.json.refresh_token))).json.error, 'invalid_grant');
  assert.equal((await getGrant(srv.flow, id))?.state, 'revoked');
  assert.ok(
    !srv.logs.some((l) => l.includes('"event":"redis_wait_short"')),
    'writes reached a replica',
  );
});

test('50 concurrent refreshes of one token on a cluster: exactly one succeeds', async () => {
  const tokens = await deliveredTokens(srv.url);
  const answers = await Promise.all(
    Array.from({ length: 50 }, () => refresh(srv.url, String(tokens.refresh_token))),
  );
  assert.equal(
    answers.filter((a) => a.status === 200).length,
    1,
    JSON.stringify(answers.map((a) => [a.status, a.json.error, a.json.error_description])),
  );
});
