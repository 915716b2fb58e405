/**
 * Issue 13: every CLI example a newcomer may copy names its scopes. A service in dynamic mode
 * (the default) refuses a login without one, so README, docs/ and the chart's NOTES show
 * `--scope` (or set WEBEX_TOKEN_SCOPE) wherever they run `webex-token login`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from '@jest/globals';

const root = path.resolve(__dirname, '../..');

function markdownFiles(): string[] {
  const docs = path.join(root, 'docs');
  const out = [path.join(root, 'README.md')];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.md')) out.push(full);
    }
  };
  if (fs.existsSync(docs)) walk(docs);
  return out;
}

/** Fenced code blocks of a Markdown file. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^(```|~~~)[^\n]*\n([\s\S]*?)^\1\s*$/gm)].map((m) => m[2]!);
}

const LOGIN = /\bwebex-token(?:\.js)?\s+login\b/;

test('every fenced `webex-token login` example in README and docs/ names a scope', () => {
  let seen = 0;
  for (const file of markdownFiles()) {
    for (const block of codeBlocks(fs.readFileSync(file, 'utf8'))) {
      if (!LOGIN.test(block)) continue;
      seen++;
      assert.ok(
        /--scope\b|WEBEX_TOKEN_SCOPE/.test(block),
        `${path.relative(root, file)}: a login example without --scope:\n${block}`,
      );
    }
  }
  assert.ok(
    seen >= 3,
    `found only ${seen} login examples: is the check looking at the right files?`,
  );
});

test("the chart's NOTES print the one-file CLI command with --scope in dynamic mode", () => {
  const notes = fs.readFileSync(
    path.join(root, 'helm', 'webex-scoped-tokens', 'templates', 'NOTES.txt'),
    'utf8',
  );
  const logins = notes.split('\n').filter((l) => LOGIN.test(l));
  assert.equal(logins.length, 2, 'one line per scopes mode');
  assert.ok(logins.some((l) => /--scope "\{\{ \$example \}\}"/.test(l)));
  for (const l of logins)
    assert.match(l, /curl -fsSLo webex-token\.js "\{\{ \$url \}\}\/cli\/webex-token\.js"/);
  assert.doesNotMatch(notes, /npx webex-token/, 'the registry name is not ours');
});
