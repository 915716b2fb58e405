/**
 * The catalog against Webex's documentation: renamed and removed entries, the additions,
 * a source for every entry, and presets that hold only catalog scopes.
 */
import assert from 'node:assert/strict';
import { describe, test } from '@jest/globals';
import {
  REMOVED_SCOPES,
  RENAMED_SCOPES,
  SCOPE_CATALOG,
  SCOPE_PRESETS,
  SCOPE_SOURCES,
  checkRequestedScopes,
  describeScope,
  identityScopeFor,
  isCatalogScope,
} from '../../src/webex/scopes';
import { orgApiId, orgUuid } from '../../src/webex/org-id';

describe('scope catalog', () => {
  test('renamed entries use the name Webex uses; the old name is refused with the new one', () => {
    assert.ok(isCatalogScope('meeting:admin_transcripts_read'));
    assert.equal(isCatalogScope('meeting:admin_transcript_read'), false);
    assert.equal(
      RENAMED_SCOPES.get('meeting:admin_transcript_read'),
      'meeting:admin_transcripts_read',
    );
    const check = checkRequestedScopes(
      'meeting:admin_transcript_read',
      SCOPE_CATALOG.map((s) => s.scope),
    );
    assert.deepEqual(check.ok, []);
    assert.match(check.problems[0]!.reason, /Webex names it meeting:admin_transcripts_read/);
  });

  test('removed entries are gone; compliance officers read transcripts with meetings_read', () => {
    assert.equal(isCatalogScope('spark-compliance:transcripts_read'), false);
    assert.equal(
      REMOVED_SCOPES.get('spark-compliance:transcripts_read'),
      'spark-compliance:meetings_read',
    );
    const check = checkRequestedScopes('spark-compliance:transcripts_read', []);
    assert.match(check.problems[0]!.reason, /ask for spark-compliance:meetings_read instead/);
    assert.match(describeScope('spark-compliance:meetings_read').description, /transcripts/);
    assert.match(
      describeScope('spark-compliance:recordings_read').description,
      /calling recordings/,
    );
    assert.match(describeScope('identity:groups_read').description, /\/v1\/groups/);
    assert.match(describeScope('identity:people_read').description, /SCIM 2/);
  });

  test('scopes admins use are in the catalog', () => {
    for (const scope of [
      'spark-admin:recordings_read',
      'spark-admin:recordings_write',
      'analytics:read_all',
      'identity:tokens_read',
      'identity:tokens_write',
      'identity:organizations_read',
      'identity:organizations_rw',
      'spark-admin:wholesale_sub_partners_read',
      'spark-admin:wholesale_sub_partners_write',
      'meeting:transcripts_read',
      'meeting:admin_transcripts_read',
    ]) {
      assert.ok(isCatalogScope(scope), scope);
    }
  });

  test('every entry names where it was confirmed; no duplicates; never spark:all', () => {
    const seen = new Set<string>();
    for (const s of SCOPE_CATALOG) {
      assert.ok(s.source && s.source in SCOPE_SOURCES, `${s.scope} names a source`);
      assert.match(SCOPE_SOURCES[s.source], /https:\/\/developer\.webex\.com\//);
      assert.ok(!seen.has(s.scope), `${s.scope} listed once`);
      seen.add(s.scope);
      assert.ok(!RENAMED_SCOPES.has(s.scope) && !REMOVED_SCOPES.has(s.scope), s.scope);
    }
    assert.equal(seen.has('spark:all'), false);
  });

  test('every preset holds only catalog scopes; the compliance officer preset holds meetings_read', () => {
    for (const preset of SCOPE_PRESETS) {
      assert.ok(preset.scopes.length > 0, preset.id);
      for (const scope of preset.scopes) assert.ok(isCatalogScope(scope), `${preset.id}: ${scope}`);
    }
    const compliance = SCOPE_PRESETS.find((p) => p.id === 'compliance-officer')!;
    assert.ok(compliance.scopes.includes('spark-compliance:meetings_read'));
  });

  test('the identity scope is added only when the picked scopes cannot read people/me', () => {
    const id = 'spark:people_read';
    assert.equal(identityScopeFor(id, ['spark-admin:licenses_read']), id);
    assert.equal(
      identityScopeFor(id, ['spark-admin:licenses_read', 'spark-admin:people_read']),
      null,
    );
    assert.equal(identityScopeFor(id, ['spark:people_read']), null);
    assert.equal(identityScopeFor(null, ['spark-admin:licenses_read']), null);
  });
});

describe('org ids', () => {
  const uuid = '3c9e1d1a-5b2f-4e7d-9c1a-0f0e0d0c0b0a';
  test('UUID, base64 padded or not, and URL-safe base64 name the same org', () => {
    const padded = Buffer.from(`ciscospark://us/ORGANIZATION/${uuid}`).toString('base64');
    for (const form of [
      uuid,
      uuid.toUpperCase(),
      orgApiId(uuid),
      padded,
      padded.replace(/=+$/, ''),
    ])
      assert.equal(orgUuid(form), uuid, form);
    assert.equal(orgUuid(Buffer.from(`ciscospark://us/PEOPLE/${uuid}`).toString('base64')), null);
    assert.equal(orgUuid('sandbox-org-0001'), null);
    assert.equal(orgUuid(''), null);
  });
});
