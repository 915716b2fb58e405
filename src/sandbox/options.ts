/**
 * The simulated Webex's vocabulary: its options, the people it signs in, and the faults it can
 * be told to rehearse (sandbox.ts is the simulation, faults.ts the faulty answers).
 */

export type TokenFault =
  'http500' | 'http429' | 'timeout' | 'html' | 'missing_fields' | 'reset' | 'invalid_client';
export type PeopleFault = 'http403' | 'http429' | 'http503' | 'timeout';

/** The org the sandbox's people belong to, as the UUID Control Hub would show. */
export const SANDBOX_ORG_UUID = '5a4d2c10-0b1e-4c6f-9a3e-00000000f00d';

export interface SandboxUser {
  id: string;
  displayName: string;
  email: string;
  orgId: string;
  admin: boolean;
}

export interface SandboxOptions {
  clientId: string;
  clientSecret: string;
  /** Prefix of issued tokens, so tests can recognise them anywhere. */
  tokenPrefix?: string;
  /** The org's UUID (people/me answers its base64 API form). */
  orgId?: string;
  /** The scopes ticked on the simulated integration (default: the whole catalog). */
  registeredScopes?: readonly string[];
  /** Retry-After the rate-limit faults send, in seconds. */
  retryAfterSeconds?: number;
  accessTokenLifetime?: number;
  refreshTokenLifetime?: number;
  /** How long a timeout fault holds the request, in ms. */
  hangMs?: number;
  /**
   * The only redirect URIs the authorize step sends a browser back to (the service's own
   * /oauth; more with allowRedirectUri). None: loopback http .../oauth URLs only.
   */
  redirectUris?: readonly string[];
}
