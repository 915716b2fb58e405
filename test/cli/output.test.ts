import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { promisify } from 'node:util';
import { CliError } from '../../src/cli/errors';
import {
  type TokenResponse,
  checkOutputWritable,
  formatTokens,
  refreshTokenFromText,
  shellQuote,
  validateTokenResponse,
  writeSecretFile,
} from '../../src/cli/output';

const run = promisify(execFile);

const RECEIVED = Date.parse('2030-01-02T03:04:05.000Z');
const TOKENS: TokenResponse = {
  access_token: 'YTNiMzUz_Zjgt-ZGNl.NDRk~x+y/z=',
  token_type: 'Bearer',
  expires_in: 1209600,
  refresh_token: 'UlRfMTIz_abc-DEF.ghi',
  refresh_token_expires_in: 7776000,
  scope: 'spark:people_read spark-admin:people_read',
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webex-token-out-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Evaluates a file the way the docs say (`eval "$(cat f)"`) and prints one variable. */
async function evalInBash(file: string, variable: string): Promise<string> {
  const { stdout } = await run('bash', [
    '-c',
    `set -eu; eval "$(cat "$1")"; printf %s "$${variable}"`,
    'bash',
    file,
  ]);
  return stdout;
}

describe('formats', () => {
  test('json: the response plus absolute expiry times, known fields first', () => {
    const text = formatTokens('json', { ...TOKENS, extra_field: 7 }, RECEIVED);
    assert.ok(text.endsWith('}\n'));
    const parsed = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), [
      'access_token',
      'token_type',
      'expires_in',
      'expires_at',
      'refresh_token',
      'refresh_token_expires_in',
      'refresh_token_expires_at',
      'scope',
      'extra_field',
    ]);
    assert.equal(parsed.access_token, TOKENS.access_token);
    assert.equal(parsed.expires_at, '2030-01-16T03:04:05.000Z');
    assert.equal(parsed.refresh_token_expires_at, '2030-04-02T03:04:05.000Z');
    assert.equal(parsed.extra_field, 7);
  });

  test('json: lifetimes the server did not send are left out', () => {
    const parsed = JSON.parse(formatTokens('json', { access_token: 'a' }, RECEIVED)) as object;
    assert.deepEqual(parsed, { access_token: 'a' });
  });

  test('token: the access token and a newline', () => {
    assert.equal(formatTokens('token', TOKENS, RECEIVED), `${TOKENS.access_token}\n`);
  });

  test('env: KEY=value lines, bare values for URL-safe tokens', () => {
    assert.equal(
      formatTokens('env', TOKENS, RECEIVED),
      [
        `WEBEX_ACCESS_TOKEN='${TOKENS.access_token}'`, // has "~": quoted
        'WEBEX_ACCESS_TOKEN_EXPIRES_AT=2030-01-16T03:04:05.000Z',
        `WEBEX_REFRESH_TOKEN=${TOKENS.refresh_token}`,
        'WEBEX_REFRESH_TOKEN_EXPIRES_AT=2030-04-02T03:04:05.000Z',
        '',
      ].join('\n'),
    );
  });

  test('env: round-trips through eval in bash', async () => {
    const file = path.join(dir, 'roundtrip.env');
    fs.writeFileSync(file, formatTokens('env', TOKENS, RECEIVED));
    assert.equal(await evalInBash(file, 'WEBEX_ACCESS_TOKEN'), TOKENS.access_token);
    assert.equal(await evalInBash(file, 'WEBEX_REFRESH_TOKEN'), TOKENS.refresh_token);
    assert.equal(
      await evalInBash(file, 'WEBEX_ACCESS_TOKEN_EXPIRES_AT'),
      '2030-01-16T03:04:05.000Z',
    );
  });

  test('env: hostile-looking values stay inert under eval', async () => {
    const marker = path.join(dir, 'pwned');
    const nasty = `a'b"c$(touch ${marker})\`touch ${marker}\`;touch ${marker} *?[x]~{a,b}!\\`;
    const file = path.join(dir, 'nasty.env');
    fs.writeFileSync(file, `X=${shellQuote(nasty)}\n`);
    assert.equal(await evalInBash(file, 'X'), nasty);
    assert.equal(fs.existsSync(marker), false);
  });

  test('env: a typical Webex token is written bare, which $GITHUB_ENV reads as-is', () => {
    const webexLike = 'ZDI3MGEyYzQtNmFlNS00NDNhLWFlNzAtZGVjNjE0MGU1OGZmZTc2_PF84_1eb65fdf-9643';
    const lines = formatTokens(
      'env',
      { ...TOKENS, access_token: webexLike, refresh_token: webexLike },
      RECEIVED,
    ).trimEnd();
    // $GITHUB_ENV: NAME=value, split at the first "=", value taken literally.
    for (const line of lines.split('\n')) {
      const eq = line.indexOf('=');
      const value = line.slice(eq + 1);
      assert.match(line.slice(0, eq), /^WEBEX_[A-Z_]+$/);
      assert.doesNotMatch(value, /['"\s]/, `value of ${line.slice(0, eq)} would need quotes`);
    }
    assert.match(lines, new RegExp(`^WEBEX_ACCESS_TOKEN=${webexLike}$`, 'm'));
  });

  test('shellQuote refuses newlines and control characters', () => {
    for (const bad of ['a\nWEBEX_X=1', 'a\rb', 'a\x00b', 'a\x1bb']) {
      assert.throws(() => shellQuote(bad), CliError);
    }
  });
});

describe('token response validation', () => {
  test('accepts a normal response', () => {
    assert.deepEqual(validateTokenResponse(TOKENS), TOKENS);
  });
  const bad: [string, unknown][] = [
    ['not an object', 'token'],
    ['array', [TOKENS]],
    ['missing access_token', { refresh_token: 'x' }],
    ['empty access_token', { access_token: '' }],
    ['access_token with a newline', { access_token: 'a\nb' }],
    ['access_token with a space', { access_token: 'a b' }],
    ['refresh_token not a string', { access_token: 'a', refresh_token: 5 }],
    ['negative expires_in', { access_token: 'a', expires_in: -1 }],
    ['expires_in as text', { access_token: 'a', expires_in: '3600' }],
    ['scope not a string', { access_token: 'a', scope: ['x'] }],
  ];
  for (const [name, body] of bad) {
    test(`refuses ${name} (exit 5)`, () => {
      assert.throws(
        () => validateTokenResponse(body),
        (err: unknown) => err instanceof CliError && err.exitCode === 5,
      );
    });
  }
});

describe('refresh token from stdin text', () => {
  test('bare token', () => assert.equal(refreshTokenFromText('  RT_abc\n'), 'RT_abc'));
  test('json output of login', () =>
    assert.equal(
      refreshTokenFromText(formatTokens('json', TOKENS, RECEIVED)),
      TOKENS.refresh_token,
    ));
  test('env output of login', () =>
    assert.equal(
      refreshTokenFromText(formatTokens('env', TOKENS, RECEIVED)),
      TOKENS.refresh_token,
    ));
  test('quoted env line', () =>
    assert.equal(refreshTokenFromText("export WEBEX_REFRESH_TOKEN='R~1'\n"), 'R~1'));
  test('nothing usable', () => {
    assert.equal(refreshTokenFromText(''), undefined);
    assert.equal(refreshTokenFromText('{"access_token":"a"}'), undefined);
    assert.equal(refreshTokenFromText('{not json'), undefined);
    assert.equal(refreshTokenFromText('two words'), undefined);
  });
});

describe('--output file', () => {
  const mode = (file: string): number => fs.statSync(file).mode & 0o777;

  test('a new file is created with mode 0600, whatever the umask', async () => {
    const old = process.umask(0);
    try {
      const file = path.join(dir, 'new.json');
      await writeSecretFile(file, 'secret\n');
      assert.equal(mode(file), 0o600);
      assert.equal(fs.readFileSync(file, 'utf8'), 'secret\n');
    } finally {
      process.umask(old);
    }
  });

  test('an existing readable file is replaced and left 0600', async () => {
    const file = path.join(dir, 'existing.env');
    fs.writeFileSync(file, 'old contents that are longer than the new ones\n', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    await writeSecretFile(file, 'new\n');
    assert.equal(mode(file), 0o600);
    assert.equal(fs.readFileSync(file, 'utf8'), 'new\n');
  });

  test('a symlink to a regular file: the target is replaced, the link kept', async () => {
    const target = path.join(dir, 'target.txt');
    const link = path.join(dir, 'link.txt');
    fs.writeFileSync(target, 'old\n', { mode: 0o644 });
    fs.symlinkSync(target, link);
    await writeSecretFile(link, 'new\n');
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.equal(fs.readFileSync(target, 'utf8'), 'new\n');
    assert.equal(mode(target), 0o600);
  });

  test('no temporary files are left behind', () => {
    // a copy made in this realm: Jest's sandbox would see fs's array as a foreign Array
    assert.deepEqual(
      [...fs.readdirSync(dir)].filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  test('a missing directory or a directory target is a usage error (exit 2)', async () => {
    await assert.rejects(
      checkOutputWritable(path.join(dir, 'no', 'such', 'dir', 'f')),
      (err: unknown) =>
        err instanceof CliError && err.exitCode === 2 && /no such directory/.test(err.message),
    );
    await assert.rejects(
      checkOutputWritable(dir),
      (err: unknown) =>
        err instanceof CliError && err.exitCode === 2 && /is a directory/.test(err.message),
    );
    await checkOutputWritable(path.join(dir, 'fine.json'));
  });
});
