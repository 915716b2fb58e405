/**
 * `webex-token token --oidc github|gitlab`: workload identity's later runs. The CI job's OIDC
 * ID token is exchanged (RFC 8693) for the access token of the grant an admin bound to the
 * job when approving `login --oidc`; no admin, no stored secret.
 */
import type { ExchangeOptions } from './args';
import { type Ctx, connect, emit, jobIdToken } from './context';
import { CliError, EXIT } from './errors';
import { checkOutputWritable } from './output';
import { wordsDuration } from './status';
import { exchangeIdToken } from './tokens';

/** Attempts when the service or the network fails transiently (GitHub only, see below). */
export const MAX_EXCHANGE_ATTEMPTS = 3;

export async function exchange(options: ExchangeOptions, ctx: Ctx): Promise<number> {
  if (options.output !== undefined && options.output !== '-') {
    await checkOutputWritable(options.output);
  }
  const meta = await connect(options.server, ctx, options.quiet);
  // Each ID token is accepted once. GitHub mints a fresh one per request, so a transient
  // failure is retried with a new token; GitLab's is fixed for the job, so it is sent once
  // (a retry might present a token the service already counted as used).
  const attempts = options.oidc.provider === 'github' ? MAX_EXCHANGE_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt += 1) {
    const idToken = await jobIdToken(options.oidc, ctx);
    try {
      const result = await exchangeIdToken(meta, idToken, options.scopes, options, ctx.deps);
      await emit(options, result.tokens, result.receivedAt, ctx, 'exchanged');
      return EXIT.ok;
    } catch (err) {
      if (!(err instanceof CliError) || !err.transient) throw err;
      if (attempt >= attempts) {
        const tried = attempts > 1 ? ` (gave up after ${attempts} attempts)` : '';
        throw new CliError(EXIT.server, `${err.message}${tried}; run the job again`, {
          transient: true,
          retryAfterSeconds: err.retryAfterSeconds,
        });
      }
      const waitMs = Math.min(
        30_000,
        Math.max((err.retryAfterSeconds ?? 0) * 1000, 1000 * 2 ** attempt),
      );
      ctx.say(
        `webex-token: ${err.message}; retrying in ${wordsDuration(waitMs)} with a fresh ID token (${attempt})`,
      );
      await ctx.deps.clock.sleep(waitMs, ctx.deps.signal);
    }
  }
}
