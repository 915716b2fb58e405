/**
 * tools/jest-codemod.mjs converts node:test files to Jest. The coordinator re-runs it on tests
 * merged from branches that still write node:test, so what it promises is checked here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';

const CODEMOD = path.resolve(__dirname, '../../tools/jest-codemod.mjs');

const SOURCE = `import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';

function helper(after: number) {
  return after + 1;
}

describe('suite', async () => {
  before(() => {});
  after(async () => {});
  test('unused context', async (t) => {
    assert.equal(helper(1), 2);
  });
  test('timeout option', { timeout: 5000 }, async () => {
    assert.ok(true);
  });
  test('cleanup inside the test', async () => {
    const server = { close: () => undefined };
    after(() => server.close());
  });
  test('context used', async (t) => {
    t.after(() => undefined);
  });
});

test('mocks', () => {
  const f = mock.fn((a: number) => a);
  f(1);
  assert.equal(f.mock.callCount(), 1);
  assert.deepEqual(f.mock.calls[0].arguments, [1]);
  mock.timers.enable({ apis: ['setTimeout'] });
  mock.timers.tick(100);
  mock.timers.reset();
});
`;

function convert(source: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-codemod-'));
  const file = path.join(dir, 'sample.test.ts');
  fs.writeFileSync(file, source);
  const first = spawnSync(process.execPath, [CODEMOD, file], { encoding: 'utf8' });
  const out = fs.readFileSync(file, 'utf8');
  const again = spawnSync(process.execPath, [CODEMOD, '--check', file], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  return { first, out, again };
}

test('node:test idioms become Jest, and a second run changes nothing', () => {
  const { first, out, again } = convert(SOURCE);
  assert.equal(first.status, 0, first.stderr);
  assert.doesNotMatch(out, /node:test/);
  assert.match(
    out,
    /import \{ afterAll, beforeAll, describe, jest, test \} from ["']@jest\/globals["']/,
  );
  assert.match(out, /import \{\s*withTestContext,\s*fromNodeTimers,?\s*\} from/);
  assert.match(out, /beforeAll\(\(\) => \{\}\)/);
  assert.match(out, /afterAll\(async \(\) => \{\}\)/);
  assert.match(out, /function helper\(after: number\)/, 'a local named after is not renamed');
  assert.match(out, /test\(["']unused context["'], async \(\) => \{/);
  assert.match(out, /\},\s*5000,?\s*\);/, 'the timeout option became the third argument');
  assert.match(
    out,
    /withTestContext\(async \(t\) => \{\s*const server[^]*t\.after\(\(\) => server\.close\(\)\)/,
  );
  assert.match(out, /withTestContext\(async \(t\) => \{\s*t\.after\(/);
  assert.match(out, /jest\.fn\(/);
  assert.match(out, /f\.mock\.calls\.length/);
  assert.match(out, /f\.mock\.calls\[0\],/);
  assert.match(out, /jest\.useFakeTimers\(fromNodeTimers\(\{ apis: \[["']setTimeout["']\] \}\)\)/);
  assert.match(out, /jest\.advanceTimersByTime\(100\)/);
  assert.match(out, /jest\.useRealTimers\(\)/);
  assert.equal(again.status, 0, `--check after a run: ${again.stdout}`);
});

test('what it cannot convert is reported with file and line, exit code 2', () => {
  const { first } = convert(`import { test } from 'node:test';
test('outer', async (t) => {
  await t.test('inner', () => {});
});
`);
  assert.equal(first.status, 2);
  assert.match(first.stderr, /sample\.test\.ts:3: manual: t\.test\(\)/);
});
