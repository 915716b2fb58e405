/**
 * The three token output formats (json, env, token) and the 0600 output file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { Format } from './args';
import { CliError, EXIT } from './errors';

/** A token endpoint success response (RFC 6749 §5.1 plus Webex's refresh lifetime). */
export interface TokenResponse {
  access_token: string;
  token_type?: string;
  expires_in?: number;
  refresh_token?: string;
  refresh_token_expires_in?: number;
  scope?: string;
  [extra: string]: unknown;
}

/** Tokens are opaque but must be visible ASCII: no spaces, quotes-breaking newlines or controls. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

function isLifetime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** Checks a parsed token response; anything unusable is a server error (exit 5). */
export function validateTokenResponse(body: unknown): TokenResponse {
  const bad = (what: string): never => {
    throw new CliError(EXIT.server, `the server returned an unusable token response (${what})`);
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('not an object');
  const r = body as Record<string, unknown>;
  if (typeof r.access_token !== 'string' || !TOKEN_CHARS.test(r.access_token)) {
    return bad('access_token');
  }
  if (
    r.refresh_token !== undefined &&
    (typeof r.refresh_token !== 'string' || !TOKEN_CHARS.test(r.refresh_token))
  ) {
    return bad('refresh_token');
  }
  for (const key of ['expires_in', 'refresh_token_expires_in'] as const) {
    if (r[key] !== undefined && !isLifetime(r[key])) return bad(key);
  }
  for (const key of ['token_type', 'scope'] as const) {
    if (r[key] !== undefined && typeof r[key] !== 'string') return bad(key);
  }
  return r as TokenResponse;
}

function isoAfter(receivedAt: number, seconds: number | undefined): string | undefined {
  return seconds === undefined ? undefined : new Date(receivedAt + seconds * 1000).toISOString();
}

/**
 * The json format: the server's token response with absolute expiry times added
 * (`expires_at`, `refresh_token_expires_at`, ISO 8601 UTC, computed from when the
 * response arrived). Known fields first, then anything else the server sent.
 */
export function toJsonObject(tokens: TokenResponse, receivedAt: number): Record<string, unknown> {
  const ordered: Record<string, unknown> = {
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    expires_at: isoAfter(receivedAt, tokens.expires_in),
    refresh_token: tokens.refresh_token,
    refresh_token_expires_in: tokens.refresh_token_expires_in,
    refresh_token_expires_at: isoAfter(receivedAt, tokens.refresh_token_expires_in),
    scope: tokens.scope,
  };
  for (const [k, v] of Object.entries(tokens)) {
    if (!(k in ordered)) ordered[k] = v;
  }
  for (const k of Object.keys(ordered)) {
    if (ordered[k] === undefined) delete ordered[k];
  }
  return ordered;
}

/**
 * Characters that need no quoting in a POSIX shell assignment (no expansion, globbing,
 * word splitting or tilde expansion can happen) and that $GITHUB_ENV takes literally.
 */
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes a value for a `KEY=value` line. Values made only of SHELL_SAFE characters are
 * written bare: that is the one form both `eval` and `$GITHUB_ENV` read identically (GitHub
 * keeps quotes as part of the value). Anything else is single-quoted for the shell (and
 * would keep its quotes in $GITHUB_ENV). Newlines and control characters are refused,
 * since they would start a new variable in $GITHUB_ENV.
 */
export function shellQuote(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new CliError(EXIT.server, 'refusing to write a value with control characters');
  }
  if (SHELL_SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The env format: `KEY=value` lines for `eval "$(...)"`, `. file`, `>> "$GITHUB_ENV"`
 * or a GitLab dotenv report. Scopes are left out (they contain spaces: use json).
 */
export function toEnvLines(tokens: TokenResponse, receivedAt: number): string {
  const vars: [string, string | undefined][] = [
    ['WEBEX_ACCESS_TOKEN', tokens.access_token],
    ['WEBEX_ACCESS_TOKEN_EXPIRES_AT', isoAfter(receivedAt, tokens.expires_in)],
    ['WEBEX_REFRESH_TOKEN', tokens.refresh_token],
    ['WEBEX_REFRESH_TOKEN_EXPIRES_AT', isoAfter(receivedAt, tokens.refresh_token_expires_in)],
  ];
  return vars
    .filter((pair): pair is [string, string] => pair[1] !== undefined)
    .map(([k, v]) => `${k}=${shellQuote(v)}\n`)
    .join('');
}

export function formatTokens(format: Format, tokens: TokenResponse, receivedAt: number): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(toJsonObject(tokens, receivedAt), null, 2)}\n`;
    case 'env':
      return toEnvLines(tokens, receivedAt);
    case 'token':
      return `${tokens.access_token}\n`;
  }
}

/**
 * Extracts a refresh token from what was piped in: a bare token, the json output
 * (`refresh_token`), or the env output (`WEBEX_REFRESH_TOKEN=` line).
 */
export function refreshTokenFromText(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { refresh_token?: unknown };
      return typeof parsed.refresh_token === 'string' && parsed.refresh_token !== ''
        ? parsed.refresh_token
        : undefined;
    } catch {
      return undefined;
    }
  }
  const line = /^(?:export\s+)?WEBEX_REFRESH_TOKEN=(.*)$/m.exec(trimmed);
  if (line) {
    const v = (line[1] ?? '').trim();
    const quoted = /^'(.*)'$/.exec(v) ?? /^"(.*)"$/.exec(v);
    const value = quoted ? (quoted[1] ?? '') : v;
    return value === '' ? undefined : value;
  }
  if (/\s/.test(trimmed)) return undefined;
  return trimmed;
}

/**
 * Checks early (before asking anyone to approve anything) that `file` can be written:
 * its directory exists and is writable. Throws a usage error otherwise.
 */
export async function checkOutputWritable(file: string): Promise<void> {
  const target = path.resolve(file);
  try {
    const st = await fs.stat(target);
    if (st.isDirectory()) throw new CliError(EXIT.usage, `--output ${file} is a directory`);
    if (!st.isFile()) return; // a FIFO or device: written to directly
  } catch (err) {
    if (err instanceof CliError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CliError(EXIT.usage, `cannot use --output ${file}: ${describeFsError(err)}`);
    }
  }
  try {
    await fs.access(path.dirname(await realTarget(target)), fsConstants.W_OK);
  } catch (err) {
    throw new CliError(EXIT.usage, `cannot write --output ${file}: ${describeFsError(err)}`);
  }
}

async function realTarget(target: string): Promise<string> {
  try {
    return await fs.realpath(target);
  } catch {
    return target;
  }
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such directory';
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  return e.code ?? String(err);
}

/**
 * Writes `content` to `file` so that nobody else can read it:
 * - a regular file (new, or existing, also behind a symlink) is replaced atomically by a
 *   fresh file created with O_EXCL and mode 0600 in the same directory, then renamed over
 *   it, so the result is 0600 whatever the old mode or the umask, and never half-written;
 * - an existing FIFO or device (`/dev/stdout`, `>(...)` process substitution) is written
 *   to directly.
 */
export async function writeSecretFile(file: string, content: string): Promise<void> {
  const target = await realTarget(path.resolve(file));
  let existing: import('node:fs').Stats | undefined;
  try {
    existing = await fs.stat(target);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined && !existing.isFile()) {
    if (existing.isDirectory()) throw new CliError(EXIT.usage, `--output ${file} is a directory`);
    await fs.writeFile(target, content);
    return;
  }
  const tmp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.chmod(0o600);
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
