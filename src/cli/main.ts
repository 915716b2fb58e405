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
import { parseCommandLine } from './args';
import { HELP, USAGE } from './help';
import type { CliIO, Ctx } from './context';
import { CliError, EXIT, Interrupted } from './errors';
import { realClock } from './http';
import { exchange } from './exchange';
import { login } from './login';
import { refresh, revoke } from './refresh';
import { cliUserAgent } from './user-agent';

export type { CliIO } from './context';

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
      case 'token':
        return await exchange(command.options, ctx);
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
