import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { configEnvNames } from '../../src/config';
import { CONFIG_DOC, docWithTable } from '../../scripts/config-table';

const ROOT = path.resolve(__dirname, '../..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const configDoc = fs.readFileSync(CONFIG_DOC, 'utf8');

test('the configuration table in docs/configuration.md matches the convict schema (run `npm run docs:config`)', () => {
  // Prettier pads table cells; compare cell contents, not padding.
  const norm = (text: string) => text.replace(/ *\| */g, '|').replace(/-{3,}/g, '---');
  assert.equal(norm(docWithTable(configDoc)), norm(configDoc));
  for (const env of configEnvNames) assert.ok(configDoc.includes(`| \`${env}\``), env);
  assert.ok(readme.includes('(docs/configuration.md)'), 'README links to the configuration');
});

test('the README gives the two commands: the demo and the tests', () => {
  assert.match(readme, /npm ci && npm run demo/);
  assert.match(readme, /^npm test$/m);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.match(pkg.scripts.demo!, /SANDBOX=true/);
  assert.ok(pkg.scripts.test);
});

test('the README prerequisites name what `npm test` needs, and how long a first run takes', () => {
  const pre = /## Prerequisites\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  for (const need of ['Node.js', 'Redis', 'REDIS_URL', 'Chromium', 'Go']) {
    assert.ok(pre.includes(need), `prerequisites mention ${need}`);
  }
  assert.match(pre, /first run[^.]*minutes/i, 'says how long the first run takes');
});

const DOC_FILES = [
  'README.md',
  'SECURITY.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -N for repeats. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, '');
  for (const m of prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let slug = base;
    for (let n = 1; out.has(slug); n++) slug = `${base}-${n}`;
    out.add(slug);
  }
  return out;
}

test('every relative link in README, SECURITY.md and docs/ points at a file (and heading) that exists', () => {
  let checkedAnchors = 0;
  for (const file of DOC_FILES) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/\]\(([^)#\s]*)(#[^)\s]*)?\)|src="([^"]+\.png)"/g)) {
      const target = m[1] ?? m[3]!;
      if (/^[a-z]+:/.test(target)) continue;
      const resolved = target
        ? path.resolve(path.dirname(path.join(ROOT, file)), target)
        : path.join(ROOT, file);
      assert.ok(fs.existsSync(resolved), `${file} links to ${target}, which does not exist`);
      const fragment = m[2]?.slice(1);
      if (!fragment || !resolved.endsWith('.md')) continue;
      assert.ok(
        anchors(fs.readFileSync(resolved, 'utf8')).has(fragment),
        `${file} links to ${target || file}#${fragment}, a heading that does not exist`,
      );
      checkedAnchors++;
    }
  }
  assert.ok(checkedAnchors >= 3, `only ${checkedAnchors} heading links checked`);
});

test('`npm start` runs exactly the container image CMD (same Node flags)', () => {
  const cmd = /^CMD (\[.*\])$/m.exec(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  assert.ok(cmd, 'the Dockerfile has an exec-form CMD');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.start, (JSON.parse(cmd[1]!) as string[]).join(' '));
});
