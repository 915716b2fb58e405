/**
 * `webex-token`: get Webex tokens from a webex-scoped-tokens service without a browser.
 *
 * Entry points: bin/webex-token.js (the package) and the one-file bundle (src/cli/bundle.ts).
 * `run(argv, io)` does everything through the handles in `io` (streams, env, fetch, clock,
 * abort signal), so tests call it directly; `main()` wires it to the real process.
 * stdout carries only the token output; everything for humans goes to stderr.
 */
import fs from 'node:fs';
import path from 'node:path';
import qrcode from 'qrcode-terminal';
import {
  type Env,
  HELP,
  type LoginOptions,
  type RefreshOptions,
  USAGE,
  parseCommandLine,
} from './args';
import {
  type Clock,
  type Deps,
  type ServerMetadata,
  cancelDeviceAuthorization,
  clean,
  discover,
  pollForTokens,
  realClock,
  refreshTokens,
  revokeRefreshToken,
  startDeviceAuthorization,
} from './device';
import { CliError, EXIT, Interrupted, UsageError } from './errors';
import {
  type TokenResponse,
  checkOutputWritable,
  formatTokens,
  refreshTokenFromText,
  writeSecretFile,
} from './output';
import { WaitStatus, wordsDuration } from './status';
import { cliUserAgent } from './user-agent';

export interface CliIO {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
  /** Where `refresh` reads a piped refresh token from. */
  stdin?: AsyncIterable<string | Buffer> & { isTTY?: boolean };
  env: Env;
  /** Aborted on Ctrl-C: the run stops waiting, prints a message and returns 130. */
  signal?: AbortSignal;
  fetch?: typeof fetch;
  clock?: Clock;
}

interface Ctx {
  io: CliIO;
  deps: Deps;
  /** stderr is a terminal that understands cursor control. */
  tty: boolean;
  say(line: string): void;
}

/** Set by the bundler in the one-file CLI, which has no package.json beside it. */
declare const __WEBEX_TOKEN_VERSION__: string | undefined;

export function version(): string {
  if (typeof __WEBEX_TOKEN_VERSION__ === 'string') return __WEBEX_TOKEN_VERSION__;
  // Same relative path from src/cli/ and from dist/cli/.
  const file = path.join(__dirname, '..', '..', 'package.json');
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const tty = io.stderr.isTTY === true && io.env.TERM !== 'dumb';
  const ctx: Ctx = {
    io,
    tty,
    deps: {
      fetch: io.fetch ?? globalThis.fetch,
      clock: io.clock ?? realClock,
      signal: io.signal,
      userAgent: cliUserAgent(version(), io.env),
    },
    say: (line) => io.stderr.write(`${line}\n`),
  };
  try {
    const command = parseCommandLine(argv, io.env);
    switch (command.kind) {
      case 'help':
        io.stdout.write(HELP[command.topic]);
        return EXIT.ok;
      case 'version':
        io.stdout.write(`${version()}\n`);
        return EXIT.ok;
      case 'login':
        return await login(command.options, ctx);
      case 'refresh':
        return await refresh(command.options, ctx);
      case 'revoke':
        return await revoke(command.options, ctx);
    }
  } catch (err) {
    if (err instanceof Interrupted) {
      if (io.signal?.reason === 'SIGTERM') {
        ctx.say('\nwebex-token: stopped (SIGTERM); no tokens were written');
        return EXIT.terminated;
      }
      ctx.say('\nwebex-token: interrupted (Ctrl-C); no tokens were written');
      return EXIT.interrupted;
    }
    if (err instanceof CliError) {
      ctx.say(`webex-token: ${err.message}`);
      if (err.showUsage) ctx.say(`\n${USAGE}`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    ctx.say(`webex-token: unexpected error: ${message}`);
    return 1;
  }
}

function isLoopback(server: string): boolean {
  const host = new URL(server).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

async function connect(server: string, ctx: Ctx, quiet: boolean): Promise<ServerMetadata> {
  if (new URL(server).protocol === 'http:' && !isLoopback(server)) {
    ctx.say(
      `webex-token: warning: ${server} uses plain http; tokens will cross the network unencrypted`,
    );
  }
  const meta = await discover(server, ctx.deps);
  if (!quiet) {
    ctx.say(
      `webex-token: connected to ${server}${meta.version ? ` (webex-scoped-tokens ${meta.version})` : ''}`,
    );
  }
  return meta;
}

async function emit(
  options: { format: LoginOptions['format']; output: string | undefined; quiet: boolean },
  tokens: TokenResponse,
  receivedAt: number,
  ctx: Ctx,
  verb: string,
): Promise<void> {
  const text = formatTokens(options.format, tokens, receivedAt);
  const toFile = options.output !== undefined && options.output !== '-';
  if (toFile) {
    try {
      await writeSecretFile(options.output as string, text);
    } catch (err) {
      if (err instanceof CliError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new CliError(
        EXIT.usage,
        `could not write ${options.output} (${code}); the tokens were not saved`,
      );
    }
  } else {
    ctx.io.stdout.write(text);
  }
  if (!options.quiet) {
    const until =
      tokens.expires_in !== undefined
        ? ` (access token valid until ${new Date(receivedAt + tokens.expires_in * 1000).toISOString()})`
        : '';
    ctx.say(
      `webex-token: ${verb}: tokens written to ${toFile ? `${options.output} (mode 0600)` : 'stdout'}${until}`,
    );
  }
}

function renderQr(text: string): string {
  let out = '';
  qrcode.generate(text, { small: true }, (qr) => {
    out = qr;
  });
  return out;
}

function localTime(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

async function login(options: LoginOptions, ctx: Ctx): Promise<number> {
  const { deps } = ctx;
  if (options.output !== undefined && options.output !== '-') {
    await checkOutputWritable(options.output);
  }
  const meta = await connect(options.server, ctx, options.quiet);
  if (options.scopes.length === 0 && meta.scopesMode === 'dynamic') {
    const example = meta.scopesSupported.includes('spark:people_read')
      ? 'spark:people_read'
      : (meta.scopesSupported[0] ?? 'spark:people_read');
    throw new UsageError(
      `no scope given, and ${options.server} issues only the scopes a request names: add --scope "${example}" (several: --scope "a b"), or set WEBEX_TOKEN_SCOPE. The scopes it offers are listed on ${options.server}/`,
      { showUsage: false },
    );
  }
  const auth = await startDeviceAuthorization(meta, options, options.scopes, deps);
  const deadline =
    options.timeoutSeconds !== undefined
      ? deps.clock.now() + options.timeoutSeconds * 1000
      : undefined;
  const stopAt = Math.min(auth.expiresAt, deadline ?? Infinity);
  const complete = auth.verificationUriComplete;

  if (options.quiet) {
    // One line, but still the link with the code filled in: the quickest way for the admin.
    const orOpen = complete !== undefined ? `, or open ${complete}` : '';
    ctx.say(
      `Approve at ${auth.verificationUri} with code ${auth.userCode}${orOpen} (expires in ${wordsDuration(auth.expiresIn * 1000)})`,
    );
  } else {
    const scopes = options.scopes.length > 0 ? options.scopes.join(' ') : "the server's default";
    const lines = [
      '',
      `A Webex admin must approve this request (client ${options.clientId}, scopes: ${scopes}).`,
      '',
      `  Open:  ${auth.verificationUri}`,
      `  Code:  ${auth.userCode}`,
      '',
    ];
    if (complete !== undefined) lines.push(`  or open ${complete} (the code is filled in)`, '');
    ctx.say(lines.join('\n'));
    if (ctx.tty && options.qr && complete !== undefined) {
      ctx.io.stderr.write(`${renderQr(complete)}\n`);
    }
    const limit =
      deadline !== undefined && deadline < auth.expiresAt
        ? `; giving up in ${wordsDuration(deadline - deps.clock.now())} (--timeout)`
        : '';
    ctx.say(
      `The code expires in ${wordsDuration(auth.expiresIn * 1000)}, at ${localTime(auth.expiresAt)}${limit}.`,
    );
  }

  const status = new WaitStatus(ctx.io.stderr, {
    live: ctx.tty,
    quiet: options.quiet,
    now: () => deps.clock.now(),
    stopAt,
  });
  status.start();
  let result: Awaited<ReturnType<typeof pollForTokens>>;
  try {
    result = await pollForTokens(
      meta,
      auth,
      {
        clientId: options.clientId,
        clientSecret: options.clientSecret,
        deadline,
        deadlineLabel: `--timeout ${options.timeoutSeconds ?? ''}`.trim(),
      },
      deps,
      {
        onSlowDown: (s) => {
          if (!options.quiet)
            status.note(`webex-token: server asked to slow down; polling every ${s} s`);
        },
        onRetry: (message, attempt) =>
          status.note(`webex-token: ${message}; retrying (${attempt})`),
      },
    );
  } catch (err) {
    status.stop();
    if (gaveUp(err, deadline !== undefined && deadline < auth.expiresAt)) {
      const problem = await cancelDeviceAuthorization(meta, auth, options, deps);
      ctx.say(
        problem === undefined
          ? `webex-token: cancelled the request on the server; the code ${auth.userCode} can no longer be approved`
          : `webex-token: could not cancel the request (${problem}); the code ${auth.userCode} can still be approved until ${localTime(auth.expiresAt)}, but the tokens would reach no one`,
      );
    }
    throw err;
  } finally {
    status.stop();
  }
  const { tokens, approvedBy } = splitApprover(result.tokens);
  // --quiet keeps stderr to the one "Approve at" line (and errors).
  if (approvedBy && !options.quiet) ctx.say(`webex-token: approved by ${approvedBy}`);
  await emit(options, tokens, result.receivedAt, ctx, 'approved');
  return EXIT.ok;
}

/**
 * This run stops waiting on its own (Ctrl-C, SIGTERM, --timeout, the server unreachable): the
 * handoff is cancelled so nobody approves a request whose tokens would reach no one.
 */
function gaveUp(err: unknown, timeoutBeforeExpiry: boolean): boolean {
  if (err instanceof Interrupted) return true;
  if (!(err instanceof CliError)) return false;
  return err.exitCode === EXIT.server || (err.exitCode === EXIT.expired && timeoutBeforeExpiry);
}

/**
 * The service names who approved in its `webex_scoped_tokens.approved_by` extension of the
 * token response: shown on stderr, kept out of the token output.
 */
function splitApprover(response: TokenResponse): {
  tokens: TokenResponse;
  approvedBy: string | undefined;
} {
  const { webex_scoped_tokens: ext, ...tokens } = response;
  const by =
    typeof ext === 'object' && ext !== null
      ? (ext as { approved_by?: { name?: unknown; email?: unknown } }).approved_by
      : undefined;
  const name = typeof by?.name === 'string' && by.name !== '' ? clean(by.name, 100) : undefined;
  const email = typeof by?.email === 'string' && by.email !== '' ? clean(by.email, 200) : undefined;
  const approvedBy =
    name && email ? `${name} <${email}>` : (name ?? (email ? `<${email}>` : undefined));
  return { tokens: tokens as TokenResponse, approvedBy };
}

async function readAll(stdin: AsyncIterable<string | Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > 1024 * 1024)
      throw new UsageError('stdin is too large for a refresh token', { showUsage: false });
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The refresh token from --refresh-token, WEBEX_REFRESH_TOKEN, or stdin. */
async function readRefreshToken(options: RefreshOptions, ctx: Ctx): Promise<string> {
  let token = options.refreshToken;
  if (token === undefined) {
    const stdin = ctx.io.stdin;
    if (stdin === undefined || stdin.isTTY === true) {
      throw new UsageError(
        'no refresh token: pass --refresh-token, set WEBEX_REFRESH_TOKEN, or pipe it on stdin',
      );
    }
    token = refreshTokenFromText(await readAll(stdin));
    if (token === undefined) {
      throw new UsageError(
        'no refresh token on stdin (expected a token, or the json or env output of login)',
        { showUsage: false },
      );
    }
  }
  return token.trim();
}

async function refresh(options: RefreshOptions, ctx: Ctx): Promise<number> {
  const token = await readRefreshToken(options, ctx);
  if (options.output !== undefined && options.output !== '-') {
    await checkOutputWritable(options.output);
  }
  const meta = await connect(options.server, ctx, options.quiet);
  const result = await refreshTokens(meta, token, options, ctx.deps);
  await emit(options, result.tokens, result.receivedAt, ctx, 'refreshed');
  const next = result.tokens.refresh_token;
  if (options.format === 'token' && next !== undefined && next !== token) {
    // The token format drops the new refresh token, and the old one no longer works.
    ctx.say(
      'webex-token: warning: the service rotated the refresh token: the one used no longer works, and the token format does not show the new one. Use --format json or env (with --output FILE) to keep it.',
    );
  }
  return EXIT.ok;
}

async function revoke(options: RefreshOptions, ctx: Ctx): Promise<number> {
  const token = await readRefreshToken(options, ctx);
  const meta = await connect(options.server, ctx, options.quiet);
  await revokeRefreshToken(meta, token, options, ctx.deps);
  ctx.say(
    'webex-token: revoked: the service will not refresh with this token (or the tokens it belongs to) again. An access token already issued stays valid at Webex until it expires.',
  );
  return EXIT.ok;
}

/**
 * Runs the CLI on the real process: SIGINT or SIGTERM aborts the wait, and the run cancels its
 * request before exiting; a second signal exits at once.
 */
export async function main(): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted);
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const code = await run(process.argv.slice(2), {
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
      env: process.env,
      signal: controller.signal,
    });
    // Let buffered output drain before the caller calls process.exit().
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
