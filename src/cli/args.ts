/**
 * Command-line and environment parsing for `webex-token`. Pure: takes argv and an env
 * object, returns a validated command or throws a UsageError (exit 2). Flags win over env.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors';
import { OIDC_ENV, type OidcProvider, parseOidcProvider } from './oidc';

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

/** Workload identity: where the CI job's OIDC ID token comes from, and for which audience. */
export interface OidcOptions {
  provider: OidcProvider;
  /** The audience to ask for (GitHub) or expect (GitLab); default: the server URL. */
  audience: string;
  /** GitLab: the `id_tokens:` variable to read; undefined means the default. */
  idTokenVariable: string | undefined;
}

export interface LoginOptions extends CommonOptions {
  /** Requested scopes; empty is right only for a server in static mode (it grants its list). */
  scopes: string[];
  /** Give up waiting for approval after this many seconds (exit 4). */
  timeoutSeconds: number | undefined;
  qr: boolean;
  /** With --oidc: the request carries the job's ID token, and approving binds the grant to it. */
  oidc: OidcOptions | undefined;
}

/** `token`: an RFC 8693 exchange of the job's ID token for the bound grant's access token. */
export interface ExchangeOptions extends CommonOptions {
  /** Narrow the token to these scopes; empty means the grant's. */
  scopes: string[];
  oidc: OidcOptions;
}

export interface RefreshOptions extends CommonOptions {
  /** From --refresh-token or WEBEX_REFRESH_TOKEN; undefined means read it from stdin. */
  refreshToken: string | undefined;
}

export type Command =
  | { kind: 'help'; topic: HelpTopic }
  | { kind: 'version' }
  | { kind: 'login'; options: LoginOptions }
  | { kind: 'token'; options: ExchangeOptions }
  | { kind: 'refresh'; options: RefreshOptions }
  /** RFC 7009: the refresh token is read like refresh reads it; format and output unused. */
  | { kind: 'revoke'; options: RefreshOptions };

const COMMANDS = ['login', 'token', 'refresh', 'revoke'] as const;
type CommandName = (typeof COMMANDS)[number];
export type HelpTopic = 'main' | CommandName;

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
  oidc: 'WEBEX_TOKEN_OIDC',
  audience: OIDC_ENV.audience,
  idTokenVariable: OIDC_ENV.idTokenVariable,
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
  oidc: { type: 'string' },
  audience: { type: 'string' },
  'id-token-variable': { type: 'string' },
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
const OIDC: readonly OptionName[] = ['oidc', 'audience', 'id-token-variable'];
const ALLOWED: Record<CommandName, readonly OptionName[]> = {
  login: [...COMMON, 'scope', 'timeout', 'no-qr', ...OIDC],
  token: [...COMMON, 'scope', ...OIDC],
  refresh: [...COMMON, 'refresh-token'],
  revoke: ['help', 'server', 'client-id', 'client-secret', 'quiet', 'refresh-token'],
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
    const topic = COMMANDS.find((c) => c === extra[0]);
    if (command === 'help' && topic) return { kind: 'help', topic };
    if (values.help === true || command === 'help') return { kind: 'help', topic: 'main' };
    throw new UsageError('no command given');
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}"`);
  }
  const name = command as CommandName;
  if (values.help === true) return { kind: 'help', topic: name };
  if (extra.length > 0) {
    throw new UsageError(`unexpected argument "${extra[0]}"`);
  }
  for (const key of Object.keys(values) as OptionName[]) {
    if (!ALLOWED[name].includes(key)) {
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

  if (name === 'refresh' || name === 'revoke') {
    const flag = nonEmpty(values['refresh-token']);
    const refreshToken = flag === '-' ? undefined : (flag ?? nonEmpty(env[ENV.refreshToken]));
    return { kind: name, options: { ...common, refreshToken } };
  }

  const scopeValues = values.scope ?? [];
  const scopes = splitScopes(
    scopeValues.length > 0 ? scopeValues : [nonEmpty(env[ENV.scope]) ?? ''],
  );
  const oidc = parseOidc(values, env, server);
  if (name === 'token') {
    if (oidc === undefined) {
      throw new UsageError(
        `token needs --oidc github|gitlab (or ${ENV.oidc}): it trades this CI job's ID token for a token`,
      );
    }
    return { kind: 'token', options: { ...common, scopes, oidc } };
  }
  const timeoutRaw = nonEmpty(values.timeout) ?? nonEmpty(env[ENV.timeout]);
  const timeoutSeconds =
    timeoutRaw === undefined
      ? undefined
      : parseTimeout(timeoutRaw, values.timeout !== undefined ? '--timeout' : ENV.timeout);
  const qr = !(values['no-qr'] === true || envFlag(env, ENV.noQr));

  return { kind: 'login', options: { ...common, scopes, timeoutSeconds, qr, oidc } };
}

/** --oidc and what goes with it; --audience or --id-token-variable alone is a mistake. */
function parseOidc(
  values: { oidc?: string; audience?: string; 'id-token-variable'?: string },
  env: Env,
  server: string,
): OidcOptions | undefined {
  const raw = nonEmpty(values.oidc) ?? nonEmpty(env[ENV.oidc]);
  if (raw === undefined) {
    const stray = values.audience !== undefined ? '--audience' : '--id-token-variable';
    if (values.audience !== undefined || values['id-token-variable'] !== undefined) {
      throw new UsageError(`${stray} goes with --oidc github|gitlab`);
    }
    return undefined;
  }
  const audience = nonEmpty(values.audience) ?? nonEmpty(env[ENV.audience]) ?? server;
  return {
    provider: parseOidcProvider(raw.trim().toLowerCase()),
    audience,
    idTokenVariable: nonEmpty(values['id-token-variable']) ?? nonEmpty(env[ENV.idTokenVariable]),
  };
}
