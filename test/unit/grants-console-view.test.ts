/**
 * The grants console's table, rendered from grants in every state: scopes by their catalog
 * names, the requester's details labelled as claimed, a verified CI job's binding in words,
 * who ended a revoked grant and why, and Revoke offered only for active grants.
 */
import assert from 'node:assert/strict';
import { describe, test } from '@jest/globals';
import type { GrantView } from '../../src/flows/grants';
import { grantRow } from '../../src/routes/grants';
import { viewRenderer } from '../../src/views/views';

const base: GrantView = {
  id: 'AAAAAAAAAAAAAAAAAAAAAA',
  mode: 'managed',
  client: { id: 'nightly', name: 'Nightly report' },
  scopes: ['spark-admin:people_read'],
  approver: { name: 'Ada Admin', email: 'ada@example.com', orgId: 'org-1' },
  requester: { address: '203.0.113.9', userAgent: 'node', workload: null },
  createdAt: Date.UTC(2026, 0, 2, 3, 4, 5),
  lastUsedAt: null,
  lastUsedFrom: null,
  useCount: 0,
  state: 'active',
  revoked: null,
  expiresAt: Date.UTC(2026, 1, 1),
};

const renderView = viewRenderer({ sandbox: false, cache: true });

function render(grants: GrantView[]): Promise<string> {
  return renderView('grants', {
    csrf: 'csrf-value',
    viewer: { email: 'ada@example.com', orgId: 'org-1', name: 'Ada', admin: false },
    sessionEnds: { iso: '2026-01-02T03:34:05.000Z', utc: '2026-01-02 03:34:05 UTC' },
    integrationId: 'integration-id',
    grants: grants.map(grantRow),
    justRevoked: null,
  });
}

const rowOf = (html: string, id: string) => {
  const start = html.indexOf(`id="grant-${id}"`);
  assert.ok(start > 0, `row ${id} rendered`);
  return html.slice(start, html.indexOf('</tr>', start));
};

describe('grants console table', () => {
  test('an active grant: catalog name, claimed requester, never used, Revoke offered', async () => {
    const html = await render([base]);
    const row = rowOf(html, base.id);
    assert.match(row, /spark-admin:people_read/);
    assert.match(row, /Read people, their licenses and roles in your org/);
    assert.match(row, /203\.0\.113\.9<\/code> \(address, claimed\)/);
    assert.match(row, /unknown \(user agent, claimed\)/, "node's default agent says nothing");
    assert.match(row, /Never refreshed/);
    assert.match(row, /href="\/grants\/AAAAAAAAAAAAAAAAAAAAAA\/revoke"/);
    assert.match(
      row,
      /aria-label="Revoke the grant of Nightly report created 2026-01-02 03:04:05 UTC"/,
    );
    assert.match(html, /<th scope="col">Scopes<\/th>/);
    assert.match(html, /stays valid at Webex until it expires/);
    assert.match(html, /identity:tokens_write/);
  });

  test('a used grant bound to a CI job shows when, from where, and the binding in words', async () => {
    const g: GrantView = {
      ...base,
      id: 'BBBBBBBBBBBBBBBBBBBBBB',
      lastUsedAt: Date.UTC(2026, 0, 3),
      lastUsedFrom: '198.51.100.7',
      useCount: 3,
      requester: {
        ...base.requester,
        userAgent: 'webex-token/1.0',
        workload: {
          issuer: 'https://token.actions.githubusercontent.com',
          audience: 'https://tokens.example.com',
          sub: 'repo:acme/reports:ref:refs/heads/main',
          width: 'any_branch',
        },
      },
    };
    const row = rowOf(await render([g]), g.id);
    assert.match(row, /2026-01-03 00:00:00 UTC/);
    assert.match(row, /198\.51\.100\.7/);
    assert.match(row, /3 refreshes/);
    assert.match(row, /webex-token\/1\.0 \(user agent, claimed\)/);
    assert.match(row, /Verified CI job/);
    assert.match(row, /Jobs on any branch of acme\/reports/);
  });

  test('revoked grants say who and why, with no Revoke button', async () => {
    const byAdmin: GrantView = {
      ...base,
      id: 'CCCCCCCCCCCCCCCCCCCCCC',
      state: 'revoked',
      revoked: {
        at: Date.UTC(2026, 0, 4),
        by: { kind: 'admin', email: 'boss@example.com', address: '10.0.0.1' },
        reason: 'revoked',
      },
    };
    const reused: GrantView = {
      ...byAdmin,
      id: 'DDDDDDDDDDDDDDDDDDDDDD',
      revoked: { at: Date.UTC(2026, 0, 5), by: { kind: 'service' }, reason: 'reuse_detected' },
    };
    const html = await render([byAdmin, reused]);
    const a = rowOf(html, byAdmin.id);
    assert.match(a, /Revoked by boss@example\.com in the console/);
    assert.match(a, /2026-01-04 00:00:00 UTC/);
    assert.doesNotMatch(a, /\/revoke"/);
    assert.match(rowOf(html, reused.id), /an old refresh token was reused/);
  });

  test('no grants: says so', async () => {
    assert.match(await render([]), /No grants to show/);
  });
});
