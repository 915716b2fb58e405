import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from '@jest/globals';
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

test('every docs/ link in README and docs/ points at a file that exists', () => {
  const files = [
    'README.md',
    ...fs
      .readdirSync(path.join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  for (const file of files) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/\]\(([^)#\s]+\.(?:md|png))(#[^)]*)?\)|src="([^"]+\.png)"/g)) {
      const target = m[1] ?? m[3]!;
      if (/^https?:/.test(target)) continue;
      const resolved = path.resolve(path.dirname(path.join(ROOT, file)), target);
      assert.ok(fs.existsSync(resolved), `${file} links to ${target}, which does not exist`);
    }
  }
});

test('`npm start` runs exactly the container image CMD (same Node flags)', () => {
  const cmd = /^CMD (\[.*\])$/m.exec(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  assert.ok(cmd, 'the Dockerfile has an exec-form CMD');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.start, (JSON.parse(cmd[1]!) as string[]).join(' '));
});
