/**
 * Runs `node bin/webex-token.js ...` as a real subprocess (async spawn: the service under
 * test runs in this process) and collects its output.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'webex-token.js');

/**
 * bin/webex-token.js prefers dist/ when it exists; refuse to test a stale build, which
 * would silently test old code.
 */
export function assertBuildNotStale(): void {
  const built = path.join(ROOT, 'dist', 'cli', 'main.js');
  if (!fs.existsSync(built)) return;
  const builtAt = fs.statSync(built).mtimeMs;
  const srcDir = path.join(ROOT, 'src', 'cli');
  for (const f of fs.readdirSync(srcDir)) {
    if (fs.statSync(path.join(srcDir, f)).mtimeMs > builtAt) {
      assert.fail(`dist/cli is older than src/cli/${f}: run "npm run build" or remove dist/`);
    }
  }
}

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the user code once the CLI has printed it. */
  userCode(timeoutMs?: number): Promise<string>;
  /** Resolves when the process exits; kills it and fails after `timeoutMs`. */
  exit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CliOptions {
  env?: Record<string, string>;
  /** Text fed on stdin; without it stdin is /dev/null. */
  stdin?: string;
  /** The script to run instead of bin/webex-token.js (an installed package, the one-file CLI). */
  script?: string;
  cwd?: string;
}

export function startCli(args: string[], opts: CliOptions = {}): CliRun {
  const child = spawn(process.execPath, [opts.script ?? BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    // A clean environment: no WEBEX_TOKEN_* leaking in from the developer's shell.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      ...opts.env,
    },
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
  if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    userCode(timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = (): void => {
          const m = /(?:Code:\s+|with code )([A-Z]{4}-[A-Z]{4})\b/.exec(err);
          if (m?.[1]) return resolve(m[1]);
          if (child.exitCode !== null || Date.now() - started > timeoutMs) {
            return reject(new Error(`no user code on stderr (exit ${child.exitCode}):\n${err}`));
          }
          setTimeout(check, 25);
        };
        check();
      });
    },
    async exit(timeoutMs = 20_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`webex-token did not exit within ${timeoutMs} ms; stderr:\n${err}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
