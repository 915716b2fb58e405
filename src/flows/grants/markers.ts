/**
 * The small records the grant repository keeps beside a grant (repository.ts): a refresh token's
 * pointer to its grant, the mark a rotation leaves on the token it replaced, and the revocation
 * and binding changes that take precedence over the record's own fields.
 */
import type { GrantActor, RevokeReason, WorkloadBinding } from './model';

/** A refresh token's pointer to its grant: which grant, which generation, which client. */
export interface TokenPointer {
  grantId: string;
  generation: number;
  clientId: string;
}

export interface RotatedMarker extends TokenPointer {
  rotatedAt: number;
}

export interface RevokedMarker {
  at: number;
  by: GrantActor;
  reason: RevokeReason;
}

/**
 * The grant's CI binding as an admin last set it in the console: `binding` null means the
 * grant can no longer be exchanged for a CI job (its refresh token still works).
 */
export interface BindingMarker {
  binding: WorkloadBinding | null;
  at: number;
  by: { email: string; address: string };
}
