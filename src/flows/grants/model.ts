/**
 * What a grant is: the service's record of one approved script handoff, from the moment the
 * script picked its tokens up until it is revoked, expires, or goes unused for GRANT_IDLE_DAYS.
 * Plain data and pure functions; storage is in repository.ts.
 */
import type { AppConfig } from '../../config';
import type { WorkloadBinding } from '../../workload/binding';

export type { WorkloadBinding };

/** Who or what revoked a grant, for the audit log and the console. */
export type GrantActor =
  /** The script itself, through RFC 7009 with one of the grant's refresh tokens. */
  | { kind: 'client'; clientId: string; address: string }
  /** An admin in the grants console. */
  | { kind: 'admin'; email: string; address: string }
  /** The service: reuse detected, or Webex refused the grant's refresh token. */
  | { kind: 'service' };

export type RevokeReason = 'revoked' | 'reuse_detected' | 'webex_refused';

/** Webex's tokens, kept sealed inside a managed grant; dropped when the grant is revoked. */
export interface SealedWebexTokens {
  accessToken: string;
  tokenType: string;
  accessTokenIssuedAt: number;
  accessTokenExpiresAt: number;
  refreshToken: string;
}

export interface GrantRecord {
  v: 1;
  id: string;
  /** managed: the script holds a service refresh token; webex: it holds Webex's own. */
  mode: 'managed' | 'webex';
  clientId: string;
  clientName: string;
  /** The granted scopes. */
  scopes: string[];
  approver: { name: string | null; email: string | null; orgId: string | null };
  requester: { address: string; userAgent: string; workload: WorkloadBinding | null };
  createdAt: number;
  lastUsedAt: number | null;
  lastUsedFrom: string | null;
  /** Successful refreshes. */
  useCount: number;
  state: 'active' | 'revoked';
  revoked: { at: number; by: GrantActor; reason: RevokeReason } | null;
  /** When Webex's refresh token stops working (Webex tells us at each refresh). */
  webexRefreshExpiresAt: number;
  /** When the grant ends unless used again: the sooner of Webex's expiry and the idle limit. */
  expiresAt: number;
  /** Counts rotations; a refresh-token pointer names the generation it was issued for. */
  generation: number;
  /** Keyed hash of the refresh token the script holds now (service's or Webex's). */
  tokenDigest: string | null;
  /** managed only, and only while active. */
  webex: SealedWebexTokens | null;
}

/** The fields a grant shows as they are kept: the console (and the audit) may see these. */
type ShownAsKept =
  | 'id'
  | 'mode'
  | 'scopes'
  | 'approver'
  | 'requester'
  | 'createdAt'
  | 'lastUsedAt'
  | 'lastUsedFrom'
  | 'useCount'
  | 'state'
  | 'revoked'
  | 'expiresAt';

/** A grant as the console (and the audit) may show it: no token, no digest. */
export type GrantView = Pick<GrantRecord, ShownAsKept> & {
  client: { id: string; name: string };
};

export function toView(record: GrantRecord): GrantView {
  return {
    id: record.id,
    mode: record.mode,
    client: { id: record.clientId, name: record.clientName },
    scopes: [...record.scopes],
    approver: { ...record.approver },
    requester: { ...record.requester },
    createdAt: record.createdAt,
    lastUsedAt: record.lastUsedAt,
    lastUsedFrom: record.lastUsedFrom,
    useCount: record.useCount,
    state: record.state,
    revoked: record.revoked,
    expiresAt: record.expiresAt,
  };
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The sooner of Webex's refresh-token expiry and GRANT_IDLE_DAYS after `lastActivity`. */
export function grantExpiry(
  config: AppConfig,
  webexRefreshExpiresAt: number,
  lastActivity: number,
): number {
  return Math.min(webexRefreshExpiresAt, lastActivity + config.grants.idleDays * DAY_MS);
}

/** The org allowlist, as the sign-in applies it; checked again at every refresh. */
export function orgAllowed(config: AppConfig, orgId: string | null): boolean {
  const allowed = config.allowedOrgIds;
  if (allowed.length === 0) return true;
  if (!orgId) return false;
  return allowed.some((a) => a.toLowerCase() === orgId.toLowerCase());
}

/** Service refresh tokens: a prefix secret scanners know, then 256 random bits. */
export const SERVICE_TOKEN_PREFIX = 'wst_rt_';
const SERVICE_TOKEN = /^wst_rt_[A-Za-z0-9_-]{43}$/;

export function isServiceToken(token: string): boolean {
  return SERVICE_TOKEN.test(token);
}

/** Grant ids appear in the console's URLs and forms; they grant nothing by themselves. */
const GRANT_ID = /^[A-Za-z0-9_-]{22}$/;

export function isGrantId(id: string): boolean {
  return GRANT_ID.test(id);
}
