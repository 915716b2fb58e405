import assert from 'node:assert/strict';
import { describe, test } from '@jest/globals';
import {
  type Command,
  type ExchangeOptions,
  type LoginOptions,
  type RefreshOptions,
  parseCommandLine,
  parseTimeout,
  splitScopes,
} from '../../src/cli/args';
import { CliError } from '../../src/cli/errors';
import { HELP } from '../../src/cli/help';

const SERVER = 'https://tokens.example.com';

function login(argv: string[], env: Record<string, string> = {}): LoginOptions {
  const cmd = parseCommandLine(['login', ...argv], env);
  assert.equal(cmd.kind, 'login');
  return (cmd as Extract<Command, { kind: 'login' }>).options;
}

function refresh(argv: string[], env: Record<string, string> = {}): RefreshOptions {
  const cmd = parseCommandLine(['refresh', ...argv], env);
  assert.equal(cmd.kind, 'refresh');
  return (cmd as Extract<Command, { kind: 'refresh' }>).options;
}

/** Asserts a usage error (exit 2) whose message matches, and whether usage is printed. */
function usageError(fn: () => unknown, message: RegExp, showUsage?: boolean): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CliError, `expected CliError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, message);
    if (showUsage !== undefined) assert.equal(err.showUsage, showUsage);
    return true;
  });
}

describe('login arguments', () => {
  test('defaults', () => {
    assert.deepEqual(login(['--server', SERVER]), {
      server: SERVER,
      clientId: 'cli',
      clientSecret: undefined,
      format: 'json',
      output: undefined,
      quiet: false,
      scopes: [],
      timeoutSeconds: undefined,
      qr: true,
      oidc: undefined,
    });
  });

  test('every flag, long and short', () => {
    const o = login([
      '-s',
      `${SERVER}/prefix/`,
      '--scope',
      'spark:people_read spark-admin:people_read',
      '--scope=spark:kms,spark:people_read',
      '--client-id',
      'ci-bot',
      '--client-secret',
      's3cret',
      '-f',
      'ENV',
      '-o',
      'tokens.env',
      '--timeout',
      '5m',
      '--no-qr',
      '-q',
      '--oidc',
      'github',
      '--audience',
      'https://aud.example.com',
    ]);
    assert.deepEqual(o, {
      server: `${SERVER}/prefix`,
      clientId: 'ci-bot',
      clientSecret: 's3cret',
      format: 'env',
      output: 'tokens.env',
      quiet: true,
      scopes: ['spark:people_read', 'spark-admin:people_read', 'spark:kms'],
      timeoutSeconds: 300,
      qr: false,
      oidc: { provider: 'github', audience: 'https://aud.example.com', idTokenVariable: undefined },
    });
  });

  test('every option falls back to its env var', () => {
    const o = login([], {
      WEBEX_TOKEN_SERVER: SERVER,
      WEBEX_TOKEN_SCOPE: 'spark:kms spark:people_read',
      WEBEX_TOKEN_CLIENT_ID: 'env-client',
      WEBEX_TOKEN_CLIENT_SECRET: 'env-secret',
      WEBEX_TOKEN_FORMAT: 'token',
      WEBEX_TOKEN_OUTPUT: '/tmp/out',
      WEBEX_TOKEN_TIMEOUT: '90',
      WEBEX_TOKEN_NO_QR: 'true',
      WEBEX_TOKEN_QUIET: '1',
      WEBEX_TOKEN_OIDC: 'GitLab',
      WEBEX_TOKEN_ID_TOKEN_VARIABLE: 'MY_ID_TOKEN',
    });
    assert.deepEqual(o, {
      server: SERVER,
      clientId: 'env-client',
      clientSecret: 'env-secret',
      format: 'token',
      output: '/tmp/out',
      quiet: true,
      scopes: ['spark:kms', 'spark:people_read'],
      timeoutSeconds: 90,
      qr: false,
      oidc: { provider: 'gitlab', audience: SERVER, idTokenVariable: 'MY_ID_TOKEN' },
    });
  });

  test('flags win over env', () => {
    const o = login(
      [
        '--server',
        'http://localhost:8080',
        '--scope',
        'spark:kms',
        '--client-id',
        'flag-client',
        '--format',
        'env',
        '--output',
        'flag.out',
        '--timeout',
        '10',
      ],
      {
        WEBEX_TOKEN_SERVER: SERVER,
        WEBEX_TOKEN_SCOPE: 'spark:people_read',
        WEBEX_TOKEN_CLIENT_ID: 'env-client',
        WEBEX_TOKEN_FORMAT: 'token',
        WEBEX_TOKEN_OUTPUT: 'env.out',
        WEBEX_TOKEN_TIMEOUT: '90',
        WEBEX_TOKEN_NO_QR: '0',
        WEBEX_TOKEN_QUIET: 'off',
      },
    );
    assert.equal(o.server, 'http://localhost:8080');
    assert.deepEqual(o.scopes, ['spark:kms']);
    assert.equal(o.clientId, 'flag-client');
    assert.equal(o.format, 'env');
    assert.equal(o.output, 'flag.out');
    assert.equal(o.timeoutSeconds, 10);
    assert.equal(o.qr, true);
    assert.equal(o.quiet, false);
  });

  test('empty env vars count as unset', () => {
    const o = login([], {
      WEBEX_TOKEN_SERVER: SERVER,
      WEBEX_TOKEN_FORMAT: '',
      WEBEX_TOKEN_QUIET: '',
    });
    assert.equal(o.format, 'json');
    assert.equal(o.quiet, false);
  });

  test('timeouts', () => {
    assert.equal(parseTimeout('90', 'x'), 90);
    assert.equal(parseTimeout('90s', 'x'), 90);
    assert.equal(parseTimeout('1.5m', 'x'), 90);
    assert.equal(parseTimeout('1h', 'x'), 3600);
    for (const bad of ['0', '-1', 'abc', '10d', '']) {
      usageError(() => parseTimeout(bad, '--timeout'), /--timeout must be a positive number/);
    }
  });

  test('scopes split on spaces and commas, without duplicates', () => {
    assert.deepEqual(splitScopes(['a b', 'b,c', '  ', 'a']), ['a', 'b', 'c']);
  });
});

describe('refresh arguments', () => {
  test('token from flag, env, or stdin', () => {
    assert.equal(refresh(['-s', SERVER, '--refresh-token', 'RT1']).refreshToken, 'RT1');
    assert.equal(refresh(['-s', SERVER], { WEBEX_REFRESH_TOKEN: 'RT2' }).refreshToken, 'RT2');
    assert.equal(
      refresh(['-s', SERVER, '--refresh-token', 'RT1'], { WEBEX_REFRESH_TOKEN: 'RT2' })
        .refreshToken,
      'RT1',
    );
    assert.equal(refresh(['-s', SERVER]).refreshToken, undefined);
    assert.equal(
      refresh(['-s', SERVER, '--refresh-token', '-'], { WEBEX_REFRESH_TOKEN: 'RT2' }).refreshToken,
      undefined,
    );
  });

  test('login-only options are refused', () => {
    usageError(
      () => refresh(['-s', SERVER, '--scope', 'a']),
      /--scope is not an option of "refresh"/,
    );
    usageError(() => refresh(['-s', SERVER, '--timeout', '5']), /--timeout is not an option/);
    usageError(
      () => login(['-s', SERVER, '--refresh-token', 'x']),
      /--refresh-token is not an option of "login"/,
    );
  });

  test('login-only env vars are ignored by refresh', () => {
    const o = refresh(['-s', SERVER], { WEBEX_TOKEN_SCOPE: 'a', WEBEX_TOKEN_TIMEOUT: 'nonsense' });
    assert.equal(o.server, SERVER);
  });
});

describe('token arguments', () => {
  const token = (argv: string[], env: Record<string, string> = {}): ExchangeOptions => {
    const cmd = parseCommandLine(['token', ...argv], env);
    assert.equal(cmd.kind, 'token');
    return (cmd as Extract<Command, { kind: 'token' }>).options;
  };

  test('--oidc is required; the audience defaults to the server URL', () => {
    assert.deepEqual(token(['-s', `${SERVER}/`, '--oidc', 'github', '--scope', 'a,b']), {
      server: SERVER,
      clientId: 'cli',
      clientSecret: undefined,
      format: 'json',
      output: undefined,
      quiet: false,
      scopes: ['a', 'b'],
      oidc: { provider: 'github', audience: SERVER, idTokenVariable: undefined },
    });
    usageError(() => token(['-s', SERVER]), /token needs --oidc github\|gitlab/);
  });

  test('flags win over WEBEX_TOKEN_AUDIENCE and WEBEX_TOKEN_ID_TOKEN_VARIABLE', () => {
    const env = { WEBEX_TOKEN_AUDIENCE: 'env-aud', WEBEX_TOKEN_ID_TOKEN_VARIABLE: 'ENV_VAR' };
    assert.deepEqual(token(['-s', SERVER, '--oidc', 'gitlab'], env).oidc, {
      provider: 'gitlab',
      audience: 'env-aud',
      idTokenVariable: 'ENV_VAR',
    });
    const flags = ['-s', SERVER, '--oidc', 'gitlab', '--audience', 'a', '--id-token-variable', 'V'];
    assert.deepEqual(token(flags, env).oidc, {
      provider: 'gitlab',
      audience: 'a',
      idTokenVariable: 'V',
    });
  });

  test('login-only options are refused', () => {
    usageError(
      () => token(['-s', SERVER, '--oidc', 'github', '--timeout', '5']),
      /--timeout is not an option of "token"/,
    );
    usageError(() => token(['-s', SERVER, '--oidc', 'travis']), /--oidc must be one of/);
  });
});

describe('help and version', () => {
  const cases: [string[], Command][] = [
    [['--help'], { kind: 'help', topic: 'main' }],
    [['-h'], { kind: 'help', topic: 'main' }],
    [['help'], { kind: 'help', topic: 'main' }],
    [['help', 'login'], { kind: 'help', topic: 'login' }],
    [['login', '--help'], { kind: 'help', topic: 'login' }],
    [['refresh', '-h'], { kind: 'help', topic: 'refresh' }],
    [['--version'], { kind: 'version' }],
    [['-V'], { kind: 'version' }],
    [['login', '--version'], { kind: 'version' }],
  ];
  for (const [argv, expected] of cases) {
    test(argv.join(' '), () => assert.deepEqual(parseCommandLine(argv, {}), expected));
  }
});

describe('usage errors (exit 2)', () => {
  const cases: [string[], RegExp, boolean, Record<string, string>?][] = [
    [[], /no command given/, true],
    [['logn'], /unknown command "logn"/, true],
    [['login', '--bogus'], /unknown option --bogus/, true],
    [['login', '-x'], /unknown option -x/, true],
    [['login'], /missing --server URL \(or set WEBEX_TOKEN_SERVER\)/, true],
    [['login', '--server'], /--server needs a value/, true],
    [['login', '--server', '--scope', 'a'], /--server needs a value/, true],
    [['login', '-s', SERVER, 'extra'], /unexpected argument "extra"/, true],
    [['login', '-s', 'tokens.example.com'], /--server must be an absolute URL/, false],
    [['login', '-s', 'ftp://tokens.example.com'], /--server must be an http/, false],
    [['login', '-s', 'https://u:p@tokens.example.com'], /must not contain a user name/, false],
    [
      ['login', '-s', SERVER, '--format', 'yaml'],
      /--format must be one of json, env, token/,
      false,
    ],
    [['login', '-s', SERVER, '--timeout', 'soon'], /--timeout must be a positive number/, false],
    [['login', '--quiet=yes', '-s', SERVER], /--quiet does not take a value/, true],
    [
      ['login'],
      /WEBEX_TOKEN_SERVER must be an absolute URL/,
      false,
      { WEBEX_TOKEN_SERVER: 'nope' },
    ],
    [
      ['login', '-s', SERVER],
      /WEBEX_TOKEN_FORMAT must be one of/,
      false,
      { WEBEX_TOKEN_FORMAT: 'xml' },
    ],
    [['login', '-s', SERVER], /WEBEX_TOKEN_TIMEOUT must be/, false, { WEBEX_TOKEN_TIMEOUT: '-3' }],
    [
      ['login', '-s', SERVER],
      /WEBEX_TOKEN_NO_QR must be 1\/true/,
      false,
      { WEBEX_TOKEN_NO_QR: 'maybe' },
    ],
  ];
  for (const [argv, message, showUsage, env] of cases) {
    test(`${argv.join(' ') || '(nothing)'}${env ? ` with ${Object.keys(env).join(',')}` : ''}`, () =>
      usageError(() => parseCommandLine(argv, env ?? {}), message, showUsage));
  }
});

test('login --help says what the scope default is in each mode', () => {
  const help = HELP.login.replace(/\s+/g, ' ');
  assert.match(help, /Default: none\. A server in dynamic mode \(the usual\) needs at least one/);
  assert.match(help, /one in static mode grants its fixed scopes, so --scope can be left out/);
  assert.match(help, /cancels its request on the server/);
});
