/**
 * What every command runs with (the CLI's handles, its HTTP dependencies, a stderr printer)
 * and the steps they share: connecting to the service, reading the CI job's ID token, writing
 * the tokens.
 */
import type { Env, Format, OidcOptions } from './args';
import { type ServerMetadata, discover } from './discovery';
import { CliError, EXIT } from './errors';
import type { Clock, Deps } from './http';
import { fetchIdToken } from './oidc';
import { type TokenResponse, formatTokens, writeSecretFile } from './output';

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

export interface Ctx {
  io: CliIO;
  deps: Deps;
  /** stderr is a terminal that understands cursor control. */
  tty: boolean;
  say(line: string): void;
}

function isLoopback(server: string): boolean {
  const host = new URL(server).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

export async function connect(server: string, ctx: Ctx, quiet: boolean): Promise<ServerMetadata> {
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

export async function emit(
  options: { format: Format; output: string | undefined; quiet: boolean },
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

/** The CI job's ID token for the audience the service expects. */
export function jobIdToken(oidc: OidcOptions, ctx: Ctx): Promise<string> {
  return fetchIdToken({
    provider: oidc.provider,
    audience: oidc.audience,
    idTokenVariable: oidc.idTokenVariable,
    env: ctx.io.env,
    fetch: ctx.deps.fetch,
    signal: ctx.deps.signal,
  });
}
