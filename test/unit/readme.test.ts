import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from '@jest/globals';
import { configEnvNames } from '../../src/config';
import { readmeWithTable } from '../../scripts/config-table';

const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

test('the README configuration table matches the convict schema (run `npm run docs:config`)', () => {
  // Prettier pads table cells; compare cell contents, not padding.
  const norm = (text: string) => text.replace(/ *\| */g, '|').replace(/-{3,}/g, '---');
  assert.equal(norm(readmeWithTable(readme)), norm(readme));
  for (const env of configEnvNames) assert.ok(readme.includes(`| \`${env}\``), env);
});

test('the README gives the two commands: the demo and the tests', () => {
  assert.match(readme, /npm ci && npm run demo/);
  assert.match(readme, /^npm test$/m);
  const pkg = JSON.parse(
    fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'),
  ) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.demo!, /SANDBOX=true/);
  assert.ok(pkg.scripts.test);
});

test('`npm start` runs exactly the container image CMD (same Node flags)', () => {
  const root = path.resolve(__dirname, '../..');
  const cmd = /^CMD (\[.*\])$/m.exec(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
  assert.ok(cmd, 'the Dockerfile has an exec-form CMD');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.start, (JSON.parse(cmd[1]!) as string[]).join(' '));
});
