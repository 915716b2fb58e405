// Runs every test/**/*.test.ts with node's test runner through tsx.
// Usage: node scripts/run-tests.mjs [subdir ...]   e.g. `unit`, `integration`, `e2e`
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const wanted = process.argv.slice(2);
const roots = wanted.length
  ? wanted.map((w) => path.join(root, 'test', w))
  : [path.join(root, 'test')];

function collect(dir, out) {
  if (!fs.existsSync(dir)) throw new Error(`no such test folder: ${path.relative(root, dir)}`);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) collect(full, out);
    else if (entry.name.endsWith('.test.ts')) out.push(path.relative(root, full));
  }
  return out;
}

// test/topologies starts its own Redis Cluster and Sentinel group and kills masters: it runs
// only when asked for (`npm run test:topologies`), not in the default `npm test`.
const files = roots
  .flatMap((r) => collect(r, []))
  .filter((f) => wanted.length > 0 || !f.startsWith(path.join('test', 'topologies') + path.sep))
  .sort();
if (files.length === 0) {
  console.error('No test files found.');
  process.exit(1);
}
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-concurrency=2',
  '--test-timeout=180000',
  '--test-reporter=spec',
  ...files,
];
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'test' },
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
