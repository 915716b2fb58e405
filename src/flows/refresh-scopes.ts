/**
 * Webex's token answers name no scopes, yet a script's refresh answer must carry `scope`
 * (RFC 6749 §5.1, DESIGN "Webex facts"). So the service remembers, under the keyed hash of each
 * refresh token it hands out, the scopes that sign-in granted, for as long as Webex says the
 * refresh token lives. Nothing here decides who may refresh: it only fills in `scope`.
 */
import type { WebexTokens } from '../webex/client';
import type { FlowDeps } from './context';

const scopesKey = (deps: Pick<FlowDeps, 'sealer'>, refreshToken: string) =>
  `rtscope:${deps.sealer.hasher.digest('refresh_scope', refreshToken)}`;

/** Remember the scopes of a token pair about to be handed out. Best effort: never fails a flow. */
export async function rememberScopes(
  deps: Pick<FlowDeps, 'store' | 'logger' | 'sealer'>,
  tokens: WebexTokens,
): Promise<void> {
  if (!tokens.scope) return;
  await deps.store
    .set(
      scopesKey(deps, tokens.refresh_token),
      tokens.scope,
      tokens.refresh_token_expires_in * 1000,
    )
    .catch((err: unknown) => {
      deps.logger.warn(
        { event: 'scope_memo_failed', reason: (err as Error).message },
        'could not remember the granted scopes; a later refresh answer will lack scope',
      );
    });
}

/** A refresh answer with `scope` filled from what the sign-in granted, when Webex sent none. */
export async function withGrantedScope(
  deps: Pick<FlowDeps, 'store' | 'logger' | 'sealer'>,
  presented: string,
  tokens: WebexTokens,
): Promise<WebexTokens> {
  const scope = tokens.scope ?? (await deps.store.get(scopesKey(deps, presented)));
  if (!scope) return tokens;
  const filled = { ...tokens, scope };
  await rememberScopes(deps, filled);
  return filled;
}
