/**
 * Exit codes of `webex-token` and the error that carries one. Every failure the CLI reports
 * is a CliError: one line for humans on stderr, and a code a script can branch on.
 */

export const EXIT = {
  ok: 0,
  /** Bad arguments or configuration (including a scope or client the server refuses). */
  usage: 2,
  /** The admin declined, or the server refused the handoff (e.g. org not allowed). */
  denied: 3,
  /**
   * The code expired, `--timeout` passed, the refresh token is no longer valid, or (token
   * exchange) no grant is bound to this CI job: run `login --oidc` first.
   */
  expired: 4,
  /** Server unreachable, not a webex-scoped-tokens server, or it answered something unusable. */
  server: 5,
  /** Interrupted by Ctrl-C (SIGINT). */
  interrupted: 130,
  /** Stopped by SIGTERM (e.g. a CI job cancelled). */
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface CliErrorOptions {
  showUsage?: boolean;
  transient?: boolean;
  retryAfterSeconds?: number;
}

export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: ExitCode;
  /** Print the usage text after the message (argument errors only). */
  readonly showUsage: boolean;
  /**
   * The same request may succeed if sent again: the network failed, or the server answered
   * 429 or 5xx. Loops that retry look at this flag, never at the message.
   */
  readonly transient: boolean;
  /** The server's Retry-After, in seconds, when it sent one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(exitCode: ExitCode, message: string, opts: CliErrorOptions = {}) {
    super(message);
    this.exitCode = exitCode;
    this.showUsage = opts.showUsage ?? false;
    this.transient = opts.transient ?? false;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(message: string, opts: { showUsage?: boolean } = {}) {
    super(EXIT.usage, message, { showUsage: opts.showUsage ?? true });
  }
}

/** Thrown when the run's abort signal fires (Ctrl-C); the caller prints a message, exit 130. */
export class Interrupted extends CliError {
  override name = 'Interrupted';
  constructor() {
    super(EXIT.interrupted, 'interrupted');
  }
}
