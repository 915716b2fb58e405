/**
 * The dependency audit's offline parts: advisory ranges, pinning, the SECURITY.md review table,
 * and the graceful skip when the registry's audit endpoint cannot be used.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  compareVersions,
  interpretAudit,
  offlineFindings,
  reviewFindings,
  satisfies,
} from '../../scripts/audit-deps.cjs';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');
const lock = JSON.parse(read('package-lock.json'));
const pkg = JSON.parse(read('package.json'));
const { advisories } = JSON.parse(read('security/known-advisories.json'));

test('version ranges: comparators, ||, prereleases', () => {
  assert.equal(compareVersions('2.16.4', '2.16.10'), -1);
  assert.equal(compareVersions('3.0.0-alpha.2', '3.0.0'), -1);
  assert.equal(compareVersions('3.0.0-alpha.10', '3.0.0-alpha.9'), 1);
  assert.ok(satisfies('2.16.1', '<2.16.2 || >=3.0.0 <3.0.1'));
  assert.ok(satisfies('3.0.0', '<2.16.2 || >=3.0.0 <3.0.1'));
  assert.ok(!satisfies('3.0.1', '<2.16.2 || >=3.0.0 <3.0.1'));
  assert.ok(!satisfies('2.16.4', '<2.16.2 || >=3.0.0 <3.0.1'));
});

test('the locked production packages pass, and a known-vulnerable version is caught', () => {
  assert.deepEqual(offlineFindings(lock, advisories), []);
  const downgraded = structuredClone(lock);
  downgraded.packages['node_modules/koa'].version = '2.16.1';
  const findings = offlineFindings(downgraded, advisories);
  assert.ok(findings.some((f: string) => f.includes('koa@2.16.1') && f.includes('CVE-2025-54420')));
  const unpinned = structuredClone(lock);
  delete unpinned.packages['node_modules/pug'].integrity;
  assert.ok(offlineFindings(unpinned, advisories).some((f: string) => f.startsWith('pug@')));
  // Dev-only packages are not production dependencies.
  const devOnly = structuredClone(lock);
  devOnly.packages['node_modules/typescript'] = { version: '1.0.0', dev: true };
  assert.deepEqual(
    offlineFindings(devOnly, [
      { id: 'x', package: 'typescript', vulnerable: '<9.0.0', summary: '' },
    ]),
    [],
  );
});

test('SECURITY.md reviews every production dependency at its locked version', () => {
  const md = read('SECURITY.md');
  assert.deepEqual(reviewFindings(pkg, lock, md), []);
  const bumped = structuredClone(lock);
  bumped.packages['node_modules/ioredis'].version = '5.99.0';
  assert.match(
    reviewFindings(pkg, bumped, md).join('\n'),
    /ioredis is locked at 5\.99\.0 but SECURITY\.md reviewed/,
  );
  const added = { ...pkg, dependencies: { ...pkg.dependencies, 'left-pad': '^1.0.0' } };
  assert.match(
    reviewFindings(added, lock, md).join('\n'),
    /left-pad.*missing from the review table/,
  );
  assert.match(reviewFindings(pkg, lock, '# nothing').join(''), /no "## Pinned versions review"/);
});

test('npm audit: findings above the level fail; an unusable endpoint is a skip, not a pass', () => {
  const report = {
    metadata: { vulnerabilities: { high: 1 } },
    vulnerabilities: {
      koa: { name: 'koa', severity: 'high', range: '<2.16.2', via: [{ title: 'Open redirect' }] },
      x: { name: 'x', severity: 'low', range: '*', via: ['y'] },
    },
  };
  assert.deepEqual(interpretAudit(JSON.stringify(report), 'moderate').findings, [
    'koa (high): <2.16.2 Open redirect',
  ]);
  assert.equal(interpretAudit(JSON.stringify(report), 'critical').findings?.length, 0);
  const refused = {
    message: '405 Method Not Allowed - POST https://registry/-/npm/v1/security/advisories/bulk',
    error: { summary: '' },
  };
  assert.match(
    interpretAudit(JSON.stringify(refused), 'moderate').skipped ?? '',
    /405 Method Not Allowed/,
  );
  assert.match(interpretAudit('npm ERR! network', 'moderate').skipped ?? '', /no JSON/);
});
