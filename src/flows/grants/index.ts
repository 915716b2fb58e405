/**
 * Grants: the service keeps Webex's refresh token and hands scripts rotating, revocable service
 * refresh tokens (DESIGN.md, "Grants"). This module is the API the token endpoint, the
 * revocation endpoint and the grants console use; nothing in here knows about Koa.
 *
 * For the console (GET /grants), after a Webex sign-in that names the viewer:
 *
 *   const viewer = { email, orgId };                     // from people/me
 *   const grants = await grantsVisibleTo(deps, viewer);  // newest first
 *   const one = await getGrant(deps, id);                // null when unknown or expired
 *   if (one && mayManage(deps.config, viewer, one)) ...  // show the Revoke button
 *   const result = await revokeGrantAs(deps, viewer, id, ctx.ip);
 *
 * Everyone sees the grants they approved; emails in CONSOLE_ADMINS see every grant of their
 * org. Revoking stops future refreshes; access tokens already handed out stay valid at Webex
 * until they expire.
 */
import type { AppConfig } from '../../config';
import type { FlowDeps } from '../context';
import { type GrantView, type WorkloadBinding, isGrantId, toView } from './model';
import { GrantRepository } from './repository';
import { revokeGrant } from './revoke';

export { issueGrant, type GrantSource, type IssuedTokens } from './issue';
export { refreshGrant, refreshRule, type RefreshAnswer, type RefreshInput } from './refresh';
export { refreshTokenRevoker, revokeGrant } from './revoke';
export {
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  exchangeToken,
  type ExchangeAnswer,
  type ExchangeInput,
} from './exchange';
export {
  type GrantActor,
  type GrantView,
  type RevokeReason,
  type WorkloadBinding,
  isGrantId,
  isServiceToken,
} from './model';

/** Who is looking at the console: the signed-in person as Webex's people/me names them. */
export interface Viewer {
  email: string;
  orgId: string | null;
}

const same = (a: string | null | undefined, b: string | null | undefined) =>
  Boolean(a && b && a.trim().toLowerCase() === b.trim().toLowerCase());

/** True when `viewer` is listed in CONSOLE_ADMINS (and so sees every grant of their org). */
export function isConsoleAdmin(config: AppConfig, viewer: Viewer): boolean {
  return config.grants.consoleAdmins.includes(viewer.email.trim().toLowerCase());
}

/** Whether `viewer` may see and revoke `grant`: their own approval, or an admin of its org. */
export function mayManage(config: AppConfig, viewer: Viewer, grant: GrantView): boolean {
  if (same(grant.approver.email, viewer.email)) return true;
  return isConsoleAdmin(config, viewer) && same(grant.approver.orgId, viewer.orgId);
}

const newestFirst = (a: GrantView, b: GrantView) => b.createdAt - a.createdAt;

/** Grants approved by `email` (active, and revoked ones for a week), newest first. */
export async function listGrantsForApprover(deps: FlowDeps, email: string): Promise<GrantView[]> {
  const repo = new GrantRepository(deps);
  const records = await repo.loadMany(await repo.idsForApprover(email));
  return records
    .map(toView)
    .filter((g) => same(g.approver.email, email))
    .sort(newestFirst);
}

/** Grants approved by anyone of org `orgId`, newest first. */
export async function listGrantsForOrg(deps: FlowDeps, orgId: string): Promise<GrantView[]> {
  const repo = new GrantRepository(deps);
  const records = await repo.loadMany(await repo.idsForOrg(orgId));
  return records
    .map(toView)
    .filter((g) => same(g.approver.orgId, orgId))
    .sort(newestFirst);
}

/** What the console lists for `viewer`: their approvals, plus their org's if a console admin. */
export async function grantsVisibleTo(deps: FlowDeps, viewer: Viewer): Promise<GrantView[]> {
  const own = await listGrantsForApprover(deps, viewer.email);
  if (!isConsoleAdmin(deps.config, viewer) || !viewer.orgId) return own;
  const org = await listGrantsForOrg(deps, viewer.orgId);
  const seen = new Set(own.map((g) => g.id));
  return [...own, ...org.filter((g) => !seen.has(g.id))].sort(newestFirst);
}

/** One grant by id (no visibility check: combine with mayManage). */
export async function getGrant(deps: FlowDeps, id: string): Promise<GrantView | null> {
  if (!isGrantId(id)) return null;
  const record = await new GrantRepository(deps).load(id);
  return record ? toView(record) : null;
}

export type ConsoleRevokeResult =
  | { outcome: 'revoked'; grant: GrantView }
  | { outcome: 'already_revoked'; grant: GrantView }
  | { outcome: 'not_found' }
  | { outcome: 'forbidden' };

/**
 * Revoke from the console, as `viewer`, from `address`. A grant the viewer may not manage is
 * `forbidden` only when they could see it exist otherwise; the console shows not_found and
 * forbidden alike if it wants to tell nothing.
 */
export async function revokeGrantAs(
  deps: FlowDeps,
  viewer: Viewer,
  id: string,
  address: string,
): Promise<ConsoleRevokeResult> {
  const grant = await getGrant(deps, id);
  if (!grant) return { outcome: 'not_found' };
  if (!mayManage(deps.config, viewer, grant)) return { outcome: 'forbidden' };
  if (grant.state === 'revoked') return { outcome: 'already_revoked', grant };
  const revoked = await revokeGrant(deps, id, { kind: 'admin', email: viewer.email, address });
  return revoked ? { outcome: 'revoked', grant: revoked } : { outcome: 'not_found' };
}

/** Live grants (for the wst_grants_active gauge): revoked ones kept for the console excluded. */
export function countActiveGrants(deps: FlowDeps): Promise<number> {
  return new GrantRepository(deps).countActive();
}

/**
 * Change which CI jobs may exchange for grant `id` (the console's narrow/revoke of a binding):
 * another width of the same subject, or null for none. Keeps the exchange's index true; no
 * visibility check (combine with mayManage). Null when the grant is unknown, expired or revoked.
 */
export async function setGrantBinding(
  deps: FlowDeps,
  id: string,
  binding: WorkloadBinding | null,
): Promise<GrantView | null> {
  if (!isGrantId(id)) return null;
  const record = await new GrantRepository(deps).setBinding(id, binding);
  return record ? toView(record) : null;
}
