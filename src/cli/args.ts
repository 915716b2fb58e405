/**
 * Command-line and environment parsing for `webex-token`. Pure: takes argv and an env
 * object, returns a validated command or throws a UsageError (exit 2). Flags win over env.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors';

export const FORMATS = ['json', 'env', 'token'] as const;
export type Format = (typeof FORMATS)[number];

export type Env = Readonly<Record<string, string | undefined>>;

export interface CommonOptions {
  /** Base URL of the service, without a trailing slash. */
  server: string;
  clientId: string;
  clientSecret: string | undefined;
  format: Format;
  /** File to write the tokens to; undefined or '-' means stdout. */
  output: string | undefined;
  quiet: boolean;
}

export interface LoginOptions extends CommonOptions {
  /** Requested scopes; empty is right only for a server in static mode (it grants its list). */
  scopes: string[];
  /** Give up waiting for approval after this many seconds (exit 4). */
  timeoutSeconds: number | undefined;
  qr: boolean;
}

export interface RefreshOptions extends CommonOptions {
  /** From --refresh-token or WEBEX_REFRESH_TOKEN; undefined means read it from stdin. */
  refreshToken: string | undefined;
}

export type Command =
  | { kind: 'help'; topic: 'main' | 'login' | 'refresh' }
  | { kind: 'version' }
  | { kind: 'login'; options: LoginOptions }
  | { kind: 'refresh'; options: RefreshOptions };

/** Every setting that can come from the environment, and the flag it stands in for. */
export const ENV = {
  server: 'WEBEX_TOKEN_SERVER',
  scope: 'WEBEX_TOKEN_SCOPE',
  clientId: 'WEBEX_TOKEN_CLIENT_ID',
  clientSecret: 'WEBEX_TOKEN_CLIENT_SECRET',
  format: 'WEBEX_TOKEN_FORMAT',
  output: 'WEBEX_TOKEN_OUTPUT',
  timeout: 'WEBEX_TOKEN_TIMEOUT',
  noQr: 'WEBEX_TOKEN_NO_QR',
  quiet: 'WEBEX_TOKEN_QUIET',
  refreshToken: 'WEBEX_REFRESH_TOKEN',
} as const;

export const DEFAULT_CLIENT_ID = 'cli';

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  server: { type: 'string', short: 's' },
  scope: { type: 'string', multiple: true },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  format: { type: 'string', short: 'f' },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
  'no-qr': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  'refresh-token': { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;

const COMMON: readonly OptionName[] = [
  'help',
  'server',
  'client-id',
  'client-secret',
  'format',
  'output',
  'quiet',
];
const ALLOWED: Record<'login' | 'refresh', readonly OptionName[]> = {
  login: [...COMMON, 'scope', 'timeout', 'no-qr'],
  refresh: [...COMMON, 'refresh-token'],
};

export const USAGE = `Usage:
  webex-token login   --server URL [--scope "a b"] [options]
  webex-token refresh --server URL [--refresh-token TOKEN] [options]
  webex-token --help | --version

Run "webex-token login --help" or "webex-token refresh --help" for the options.`;

const COMMON_HELP = `  -s, --server URL          the webex-scoped-tokens service            WEBEX_TOKEN_SERVER
      --client-id ID        device-flow client id (default: cli)       WEBEX_TOKEN_CLIENT_ID
      --client-secret S     secret of a confidential client            WEBEX_TOKEN_CLIENT_SECRET
  -f, --format F            json | env | token (default: json)         WEBEX_TOKEN_FORMAT
  -o, --output FILE         write tokens to FILE (mode 0600, replaced) WEBEX_TOKEN_OUTPUT
                            instead of stdout
  -q, --quiet               less chatter on stderr                     WEBEX_TOKEN_QUIET
  -h, --help                this help`;

const EXIT_HELP = `Exit codes: 0 ok, 2 usage or configuration, 3 denied, 4 expired or timed out,
5 server or network error, 130 interrupted (Ctrl-C), 143 stopped (SIGTERM).
When it stops waiting (--timeout, Ctrl-C, SIGTERM) it cancels its request on the server,
so the code can no longer be approved.`;

export const HELP: Record<'main' | 'login' | 'refresh', string> = {
  main: `webex-token: get Webex tokens from a webex-scoped-tokens service, without a browser
on this machine. A Webex admin approves the request elsewhere; the tokens arrive here.

${USAGE.split('\n\nRun')[0]}

Commands:
  login     ask for tokens; prints a URL and a code for an admin to approve
  refresh   trade a refresh token for fresh tokens (no client secret needed)

Only the tokens go to stdout; everything else goes to stderr.
${EXIT_HELP}
`,
  login: `Usage: webex-token login --server URL [options]

Starts an OAuth device authorization on the server, shows a Webex admin where to approve
it (URL, code, QR code on a terminal), waits, and prints the tokens.

Options:                                                               env
${COMMON_HELP}
      --scope "a b"         scopes to ask for, space- or comma-separated;
                            repeatable                                 WEBEX_TOKEN_SCOPE
                            Default: none. A server in dynamic mode
                            (the usual) needs at least one and issues
                            exactly those; one in static mode grants
                            its fixed scopes, so --scope can be left
                            out. The server's home page lists them.
      --timeout SECONDS     stop waiting after this long (exit 4);
                            also 90s, 10m, 1h (default: until the
                            code expires)                              WEBEX_TOKEN_TIMEOUT
      --no-qr               never draw the QR code                     WEBEX_TOKEN_NO_QR=1

Example:
  eval "$(webex-token login -s https://tokens.example.com --scope spark:people_read --format env)"

${EXIT_HELP}
`,
  refresh: `Usage: webex-token refresh --server URL [--refresh-token TOKEN] [options]

Trades a refresh token for a fresh access token through the service. The refresh token
comes from --refresh-token, else WEBEX_REFRESH_TOKEN, else stdin (a bare token, or the
json or env output of an earlier login/refresh). "--refresh-token -" forces stdin.

Options:                                                               env
${COMMON_HELP}
      --refresh-token T     the refresh token ("-" reads stdin)        WEBEX_REFRESH_TOKEN

Example:
  webex-token refresh -s https://tokens.example.com --format token < tokens.json

${EXIT_HELP}
`,
};

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Reads a boolean env var: 1/true/yes/on or 0/false/no/off (case-insensitive). */
export function envFlag(env: Env, name: string): boolean {
  const raw = nonEmpty(env[name]?.trim());
  if (raw === undefined) return false;
  const v = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new UsageError(`${name} must be 1/true/yes/on or 0/false/no/off, not "${raw}"`, {
    showUsage: false,
  });
}

/** Validates and normalises the server URL: http(s), no credentials, no trailing slash. */
export function parseServerUrl(raw: string, source: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new UsageError(
      `${source} must be an absolute URL such as https://tokens.example.com, not "${raw}"`,
      { showUsage: false },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${source} must be an http:// or https:// URL`, { showUsage: false });
  }
  if (url.username !== '' || url.password !== '') {
    throw new UsageError(`${source} must not contain a user name or password`, {
      showUsage: false,
    });
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError(`${source} must not contain a query or fragment`, { showUsage: false });
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Parses a timeout: seconds, or a number with s/m/h. Must be > 0. */
export function parseTimeout(raw: string, source: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$/i.exec(raw);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const seconds = m ? Number(m[1]) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1) : NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(
      `${source} must be a positive number of seconds (or 90s, 10m, 1h), not "${raw}"`,
      { showUsage: false },
    );
  }
  return seconds;
}

export function parseFormat(raw: string, source: string): Format {
  const v = raw.trim().toLowerCase();
  if ((FORMATS as readonly string[]).includes(v)) return v as Format;
  throw new UsageError(`${source} must be one of ${FORMATS.join(', ')}, not "${raw}"`, {
    showUsage: false,
  });
}

/** Splits scopes on spaces and commas, dropping empties and duplicates, keeping order. */
export function splitScopes(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    for (const s of value.split(/[\s,]+/)) {
      if (s !== '' && !out.includes(s)) out.push(s);
    }
  }
  return out;
}

function rethrowParseError(err: unknown): never {
  const e = err as { code?: string; message?: string };
  const message = String(e.message ?? err);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = /'([^']+)'/.exec(message)?.[1] ?? message;
    throw new UsageError(`unknown option ${name}`);
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    // e.g. "Option '-s, --server <value>' argument missing"
    const name = /--[a-z-]+/.exec(message)?.[0];
    if (name !== undefined && /argument missing/.test(message)) {
      throw new UsageError(`${name} needs a value`);
    }
    if (name !== undefined && /ambiguous/.test(message)) {
      throw new UsageError(`${name} needs a value (use ${name}=VALUE if it starts with "-")`);
    }
    if (name !== undefined && /does not take an argument/.test(message)) {
      throw new UsageError(`${name} does not take a value`);
    }
  }
  throw new UsageError(message.split('. ')[0] ?? message);
}

/** Parses argv (without node and script path) plus the environment into a command. */
export function parseCommandLine(argv: readonly string[], env: Env): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    rethrowParseError(err);
  }
  const { values, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (values.version === true) return { kind: 'version' };

  if (command === undefined || command === 'help') {
    if (command === 'help' && (extra[0] === 'login' || extra[0] === 'refresh')) {
      return { kind: 'help', topic: extra[0] };
    }
    if (values.help === true || command === 'help') return { kind: 'help', topic: 'main' };
    throw new UsageError('no command given');
  }
  if (command !== 'login' && command !== 'refresh') {
    throw new UsageError(`unknown command "${command}"`);
  }
  if (values.help === true) return { kind: 'help', topic: command };
  if (extra.length > 0) {
    throw new UsageError(`unexpected argument "${extra[0]}"`);
  }
  for (const key of Object.keys(values) as OptionName[]) {
    if (!ALLOWED[command].includes(key)) {
      throw new UsageError(`--${key} is not an option of "${command}"`);
    }
  }

  const serverRaw = nonEmpty(values.server) ?? nonEmpty(env[ENV.server]);
  if (serverRaw === undefined) {
    throw new UsageError(`missing --server URL (or set ${ENV.server})`);
  }
  const server = parseServerUrl(serverRaw, values.server !== undefined ? '--server' : ENV.server);

  const formatRaw = nonEmpty(values.format) ?? nonEmpty(env[ENV.format]);
  const format =
    formatRaw === undefined
      ? 'json'
      : parseFormat(formatRaw, values.format !== undefined ? '--format' : ENV.format);

  const clientId =
    nonEmpty(values['client-id']) ?? nonEmpty(env[ENV.clientId]) ?? DEFAULT_CLIENT_ID;

  const common: CommonOptions = {
    server,
    clientId,
    clientSecret: nonEmpty(values['client-secret']) ?? nonEmpty(env[ENV.clientSecret]),
    format,
    output: nonEmpty(values.output) ?? nonEmpty(env[ENV.output]),
    quiet: values.quiet === true || envFlag(env, ENV.quiet),
  };

  if (command === 'refresh') {
    const flag = nonEmpty(values['refresh-token']);
    const refreshToken = flag === '-' ? undefined : (flag ?? nonEmpty(env[ENV.refreshToken]));
    return { kind: 'refresh', options: { ...common, refreshToken } };
  }

  const scopeValues = values.scope ?? [];
  const scopes = splitScopes(
    scopeValues.length > 0 ? scopeValues : [nonEmpty(env[ENV.scope]) ?? ''],
  );
  const timeoutRaw = nonEmpty(values.timeout) ?? nonEmpty(env[ENV.timeout]);
  const timeoutSeconds =
    timeoutRaw === undefined
      ? undefined
      : parseTimeout(timeoutRaw, values.timeout !== undefined ? '--timeout' : ENV.timeout);
  const qr = !(values['no-qr'] === true || envFlag(env, ENV.noQr));

  return { kind: 'login', options: { ...common, scopes, timeoutSeconds, qr } };
}
