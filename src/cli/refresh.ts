/**
 * `webex-token refresh` and `revoke`: both read a refresh token (flag, environment or stdin)
 * and act on the grant it belongs to.
 */
import type { RefreshOptions } from './args';
import { type Ctx, connect, emit } from './context';
import { EXIT, UsageError } from './errors';
import { checkOutputWritable, refreshTokenFromText } from './output';
import { refreshTokens, revokeRefreshToken } from './tokens';

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

export async function refresh(options: RefreshOptions, ctx: Ctx): Promise<number> {
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

export async function revoke(options: RefreshOptions, ctx: Ctx): Promise<number> {
  const token = await readRefreshToken(options, ctx);
  const meta = await connect(options.server, ctx, options.quiet);
  await revokeRefreshToken(meta, token, options, ctx.deps);
  ctx.say(
    'webex-token: revoked: the service will not refresh with this token (or the tokens it belongs to) again. An access token already issued stays valid at Webex until it expires.',
  );
  return EXIT.ok;
}
