import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear. They backstop the rule that secret values are
 * never passed to the logger in the first place.
 */
export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.code',
  '*.state',
  '*.code_verifier',
  '*.device_code',
  '*.user_code',
  '*.client_secret',
  '*.clientSecret',
  '*.password',
  '*.token',
  'access_token',
  'refresh_token',
  'client_secret',
];

export interface LoggerOptions {
  level: string;
  /** Pretty output for a human at a terminal; JSON otherwise. */
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'webex-scoped-tokens' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, ignore: 'pid,hostname,service' },
      },
    });
  }
  // Asynchronous writes: under load, lines written while one write is in flight leave together
  // in the next one instead of one blocking syscall each. pino flushes what is buffered when
  // the process exits, and shutdown flushes explicitly.
  return pino(base, pino.destination({ dest: 1, sync: false }));
}

/** Query parameters whose values never appear in a log line. */
const SECRET_PARAMS = new Set([
  'code',
  'state',
  'user_code',
  'device_code',
  'access_token',
  'refresh_token',
  'client_secret',
  'code_verifier',
  'token',
  'error_description',
]);

/** The URL path with secret-bearing query values replaced, safe to log. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  const out: string[] = [];
  for (const [key, value] of params) {
    out.push(
      `${encodeURIComponent(key)}=${SECRET_PARAMS.has(key.toLowerCase()) ? '[redacted]' : encodeURIComponent(value)}`,
    );
  }
  return `${url.slice(0, q)}?${out.join('&')}`;
}
