#!/usr/bin/env node
/**
 * Dependency audit for CI, in three parts:
 *  1. offline, always: every production package in package-lock.json is pinned (exact version,
 *     sha512 integrity hash, https tarball when one is named) and none matches security/known-advisories.json;
 *  2. offline, always: SECURITY.md's "Pinned versions review" lists every direct production
 *     dependency at exactly its locked version, so an upgrade cannot land without a review;
 *  3. online, when reachable: `npm audit --omit=dev` against the registry's advisory database.
 *     An unreachable or unsupported audit endpoint (mirrors, air-gapped CI) is a logged skip,
 *     never a pass in disguise: parts 1 and 2 still run.
 * Exit 1 on any finding. AUDIT_LEVEL (low|moderate|high|critical, default moderate) sets the
 * lowest npm audit severity that fails.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const SEVERITIES = ['info', 'low', 'moderate', 'high', 'critical'];

/** [major, minor, patch, prerelease parts] of "1.2.3" or "1.2.3-alpha.1"; null if not semver. */
function parse(version) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4] ? m[4].split('.') : []] : null;
}

function compareVersions(a, b) {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) throw new Error(`not a semver version: ${!x ? a : b}`);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  const [pa, pb] = [x[3], y[3]];
  if (pa.length === 0 || pb.length === 0) return pa.length === pb.length ? 0 : pa.length ? -1 : 1;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (pa[i] === undefined) return -1;
    if (pb[i] === undefined) return 1;
    const na = /^\d+$/.test(pa[i]) ? Number(pa[i]) : NaN;
    const nb = /^\d+$/.test(pb[i]) ? Number(pb[i]) : NaN;
    if (pa[i] === pb[i]) continue;
    if (!Number.isNaN(na) && !Number.isNaN(nb)) return na < nb ? -1 : 1;
    return pa[i] < pb[i] ? -1 : 1;
  }
  return 0;
}

/** Does `version` fall in `range`: comparators (<, <=, >, >=, =) joined by spaces, sets by ||. */
function satisfies(version, range) {
  return range.split('||').some((set) =>
    set
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => {
        const m = /^(<=|>=|<|>|=)?(.+)$/.exec(comparator);
        const c = compareVersions(version, m[2]);
        switch (m[1] ?? '=') {
          case '<':
            return c < 0;
          case '<=':
            return c <= 0;
          case '>':
            return c > 0;
          case '>=':
            return c >= 0;
          default:
            return c === 0;
        }
      }),
  );
}

/** Production packages of a lockfile (v2/v3): name, version, and what pins them. */
function productionPackages(lock) {
  const out = [];
  for (const [where, entry] of Object.entries(lock.packages ?? {})) {
    if (where === '' || entry.dev || entry.link) continue;
    const name = entry.name ?? where.slice(where.lastIndexOf('node_modules/') + 13);
    out.push({
      name,
      version: entry.version,
      where,
      resolved: entry.resolved,
      integrity: entry.integrity,
    });
  }
  return out;
}

function offlineFindings(lock, advisories) {
  const findings = [];
  for (const pkg of productionPackages(lock)) {
    if (!pkg.version || !parse(pkg.version)) {
      findings.push(`${pkg.where}: no exact version in package-lock.json`);
      continue;
    }
    // npm leaves `resolved` out when the registry is the default one; when present it must be https.
    if (
      !/^sha512-/.test(pkg.integrity ?? '') ||
      (pkg.resolved && !/^https:\/\//.test(pkg.resolved))
    ) {
      findings.push(
        `${pkg.name}@${pkg.version}: not pinned by a sha512 integrity hash (and an https tarball)`,
      );
    }
    for (const a of advisories) {
      if (a.package === pkg.name && satisfies(pkg.version, a.vulnerable)) {
        findings.push(
          `${pkg.name}@${pkg.version} (${pkg.where}): ${a.id} (${a.vulnerable}): ${a.summary}`,
        );
      }
    }
  }
  return findings;
}

/** Rows of SECURITY.md's "Pinned versions review" table: package → reviewed version. */
function reviewedVersions(markdown) {
  const section = /^## Pinned versions review\s*$([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(markdown);
  if (!section) return null;
  const rows = new Map();
  for (const line of section[1].split('\n')) {
    const cells = line.split('|').map((c) => c.trim().replace(/`/g, ''));
    if (cells.length >= 4 && parse(cells[2] ?? '')) rows.set(cells[1], cells[2]);
  }
  return rows;
}

function reviewFindings(pkgJson, lock, markdown) {
  const reviewed = reviewedVersions(markdown);
  if (!reviewed) return ['SECURITY.md has no "## Pinned versions review" section'];
  const findings = [];
  for (const name of Object.keys(pkgJson.dependencies ?? {})) {
    const locked = lock.packages?.[`node_modules/${name}`]?.version;
    const seen = reviewed.get(name);
    if (!seen)
      findings.push(`${name}@${locked} is a production dependency missing from the review table`);
    else if (seen !== locked)
      findings.push(
        `${name} is locked at ${locked} but SECURITY.md reviewed ${seen}: review the release notes and advisories, then update the table`,
      );
  }
  for (const name of reviewed.keys())
    if (!(name in (pkgJson.dependencies ?? {})))
      findings.push(`${name} is in the review table but not a production dependency`);
  return findings;
}

/** Interpret `npm audit --json`: findings at or above `level`, or why the audit was skipped. */
function interpretAudit(stdout, level) {
  let report;
  try {
    report = JSON.parse(stdout);
  } catch {
    return { skipped: 'npm audit printed no JSON report' };
  }
  if (report.error || !report.metadata?.vulnerabilities) {
    const why = report.error?.summary || report.message || report.error?.code || 'no report';
    return { skipped: `the audit endpoint could not be used (${String(why).split('\n')[0]})` };
  }
  const floor = SEVERITIES.indexOf(level);
  const findings = Object.values(report.vulnerabilities ?? {})
    .filter((v) => SEVERITIES.indexOf(v.severity) >= floor)
    .map(
      (v) =>
        `${v.name} (${v.severity}): ${v.range} ${(v.via ?? []).map((x) => (typeof x === 'string' ? x : x.title)).join('; ')}`,
    );
  return { findings };
}

function main() {
  const root = path.resolve(__dirname, '..');
  const read = (f) => fs.readFileSync(path.join(root, f), 'utf8');
  const lock = JSON.parse(read('package-lock.json'));
  const pkgJson = JSON.parse(read('package.json'));
  const { advisories } = JSON.parse(read('security/known-advisories.json'));
  const level = process.env.AUDIT_LEVEL ?? 'moderate';
  if (!SEVERITIES.includes(level))
    throw new Error(`AUDIT_LEVEL must be one of ${SEVERITIES.join(', ')}`);
  let failed = false;
  const report = (title, findings) => {
    if (findings.length === 0) return console.log(`PASS ${title}`);
    failed = true;
    console.log(`FAIL ${title}:\n  ${findings.join('\n  ')}`);
  };

  const prod = productionPackages(lock);
  report(
    `${prod.length} production packages pinned, none matching the ${advisories.length} known advisories`,
    offlineFindings(lock, advisories),
  );
  report(
    'SECURITY.md pinned-versions review matches package-lock.json',
    reviewFindings(pkgJson, lock, read('SECURITY.md')),
  );

  const audit = spawnSync('npm', ['audit', '--omit=dev', '--json'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const result = audit.error
    ? { skipped: `npm audit did not run (${audit.error.message})` }
    : interpretAudit(audit.stdout, level);
  if (result.skipped)
    console.log(
      `SKIP npm audit --omit=dev: ${result.skipped}; the offline checks above still apply`,
    );
  else report(`npm audit --omit=dev (severity >= ${level})`, result.findings);
  process.exit(failed ? 1 : 0);
}

module.exports = {
  compareVersions,
  satisfies,
  productionPackages,
  offlineFindings,
  reviewedVersions,
  reviewFindings,
  interpretAudit,
};

if (require.main === module) main();
