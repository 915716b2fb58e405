/**
 * RFC 7009 token revocation. Each kind of token the service can revoke is a `Revoker`; the
 * endpoint tries the one the `token_type_hint` names first, then the others (§2.1: the hint
 * is only a hint). A token nobody recognises is not an error (§2.2): the answer is the same
 * 200, so the endpoint tells a caller nothing about which tokens exist.
 */
import type { DeviceClientConfig } from '../config';
import type { FlowDeps } from './context';
import { cancelHandoff } from './device';
import { refreshTokenRevoker } from './grants/revoke';

export interface Revoker {
  /** The `token_type_hint` values this revoker answers to. */
  readonly hints: readonly string[];
  /** Revokes `token` if it is one of this kind issued to `client`; true when it was. */
  revoke(
    deps: FlowDeps,
    token: string,
    client: DeviceClientConfig,
    context: RevocationContext,
  ): Promise<boolean>;
}

/** Where the revocation request came from, for the audit log. */
export interface RevocationContext {
  address: string;
}

/** A script that gives up cancels its pending handoff (DESIGN.md, "Getting the CLI"). */
const deviceCodeRevoker: Revoker = {
  hints: ['device_code'],
  revoke: (deps, token, client) => cancelHandoff(deps, token, client),
};

/**
 * The kinds of token this service revokes: device codes (a pending handoff), and refresh
 * tokens (the grant behind a service refresh token, or a Webex refresh token it delivered).
 */
export const DEFAULT_REVOKERS: readonly Revoker[] = [refreshTokenRevoker, deviceCodeRevoker];

export async function revokeToken(
  deps: FlowDeps,
  revokers: readonly Revoker[],
  input: { token: string; hint: string | undefined; client: DeviceClientConfig; address: string },
): Promise<boolean> {
  const hinted = revokers.filter((r) => input.hint !== undefined && r.hints.includes(input.hint));
  const ordered = [...hinted, ...revokers.filter((r) => !hinted.includes(r))];
  for (const revoker of ordered) {
    if (await revoker.revoke(deps, input.token, input.client, { address: input.address }))
      return true;
  }
  return false;
}
