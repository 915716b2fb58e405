/**
 * The last resort for an error nothing else caught (a bug by definition: every request error is
 * handled by the error middleware, every stream error by its reader).
 *
 * The choice is to log and exit cleanly, not to keep serving. After an uncaught exception the
 * process is in a state nobody reasoned about (Node's documentation says as much): a half-run
 * handler may hold a lock, a waiter or a sealed record in memory. Everything that matters lives
 * in the store, so a restart (the orchestrator's, or the operator's) costs nothing but the
 * requests in flight, and those get the usual drain: the same graceful shutdown as SIGTERM
 * (stop accepting, answer waiting polls, finish in-flight requests within the grace period),
 * then exit code 1 so that the supervisor sees a failure. An unhandled rejection is treated the
 * same way, as Node itself does by default.
 *
 * What is logged is the error's class, code and stack frames, and its message with anything
 * that looks like a token or code replaced: an error message can quote the data it choked on.
 */
import type { Logger } from './logger';

/** Runs of 20+ token-ish characters: access and refresh tokens, device codes, states, keys. */
const SECRET_LIKE = /[A-Za-z0-9_~+=-]{20,}/g;

export function scrubMessage(message: string): string {
  return message.replace(SECRET_LIKE, '[redacted]').slice(0, 300);
}

export interface FatalErrorDescription {
  name: string;
  /** Node's error code, e.g. Z_BUF_ERROR (not `code`, which the logger blanks as a secret). */
  errorCode?: string;
  message: string;
  /** Only the "at …" frames: code locations, never data. */
  frames: string[];
}

export function describeFatal(caught: unknown): FatalErrorDescription {
  if (!(caught instanceof Error)) {
    return { name: typeof caught, message: scrubMessage(String(caught)), frames: [] };
  }
  const code = (caught as { code?: unknown }).code;
  return {
    name: caught.name,
    ...(typeof code === 'string' ? { errorCode: code } : {}),
    message: scrubMessage(caught.message),
    frames: (caught.stack ?? '')
      .split('\n')
      .filter((line) => /^\s+at /.test(line))
      .slice(0, 12)
      .map((line) => line.trim()),
  };
}

export interface LastResortDeps {
  proc: Pick<NodeJS.EventEmitter, 'on'>;
  logger: Pick<Logger, 'fatal' | 'flush'>;
  /** The graceful stop (idempotent): the SIGTERM path. */
  shutdown: () => Promise<void>;
  exit: (code: number) => void;
  /** Exit even if the graceful stop hangs, after this many milliseconds. */
  hardStopMs: number;
}

export function installLastResort(deps: LastResortDeps): void {
  let exiting = false;
  const onFatal = (kind: 'uncaughtException' | 'unhandledRejection') => (caught: unknown) => {
    deps.logger.fatal(
      { event: 'fatal_error', kind, error: describeFatal(caught), exiting: !exiting },
      exiting
        ? `${kind} while shutting down after an earlier one`
        : `${kind}: a bug in the service; draining in-flight requests, then exiting with code 1`,
    );
    if (exiting) return;
    exiting = true;
    setTimeout(() => deps.exit(1), deps.hardStopMs).unref();
    deps.shutdown().then(
      () => deps.exit(1),
      () => deps.exit(1),
    );
  };
  deps.proc.on('uncaughtException', onFatal('uncaughtException'));
  deps.proc.on('unhandledRejection', onFatal('unhandledRejection'));
}
