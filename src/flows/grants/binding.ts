/**
 * An admin's changes to a grant's CI binding in the console: narrow it (e.g. the whole
 * repository → this branch only) or remove it. Removing leaves the grant itself alone: its
 * refresh token keeps working, but no CI job can exchange an ID token for its access token.
 * A binding is never widened here: widening needs a new approval.
 */
import { type BindingWidth, BINDING_WIDTHS, parseSubject } from '../../workload/binding';
import type { FlowDeps } from '../context';
import { type Viewer, getGrant, mayManage } from './index';
import type { GrantView, WorkloadBinding } from './model';
import { GrantRepository } from './repository';

/** `remove`: no CI job may exchange any more; a width: bind that narrowly from now on. */
export type BindingChange = 'remove' | BindingWidth;

/** The widths narrower than `binding`'s, narrowest first (BINDING_WIDTHS runs narrow → wide). */
export function narrowerWidths(binding: WorkloadBinding): BindingWidth[] {
  const current = BINDING_WIDTHS.indexOf(binding.width);
  return BINDING_WIDTHS.slice(0, Math.max(0, current));
}

export function isBindingChange(value: string | undefined): value is BindingChange {
  return value === 'remove' || (BINDING_WIDTHS as readonly string[]).includes(value ?? '');
}

export type BindingChangeResult =
  | { outcome: 'changed'; grant: GrantView; binding: WorkloadBinding | null }
  | { outcome: 'not_found' }
  | { outcome: 'forbidden' }
  /** The grant is revoked, has no binding, or the width is not narrower than the current one. */
  | { outcome: 'not_allowed' };

/** Change grant `id`'s binding as `viewer` (who must be allowed to manage it), from `address`. */
export async function changeBindingAs(
  deps: FlowDeps,
  viewer: Viewer,
  id: string,
  change: BindingChange,
  address: string,
): Promise<BindingChangeResult> {
  const grant = await getGrant(deps, id);
  if (!grant) return { outcome: 'not_found' };
  if (!mayManage(deps.config, viewer, grant)) return { outcome: 'forbidden' };
  const current = grant.requester.workload;
  if (grant.state !== 'active' || !current) return { outcome: 'not_allowed' };
  if (change !== 'remove' && !narrowerWidths(current).includes(change)) {
    return { outcome: 'not_allowed' };
  }
  const binding = change === 'remove' ? null : { ...current, width: change };

  const repo = new GrantRepository(deps);
  const record = await repo.load(id);
  if (!record) return { outcome: 'not_found' };
  // The marker first: a refresh that saves the record after this read still loads the change.
  await repo.markBinding(
    id,
    { binding, at: deps.now(), by: { email: viewer.email, address } },
    repo.lifetime(record),
  );
  // Under the grant's update lock, and keeps the workload index (the exchange's lookup) true.
  const updated = await repo.setBinding(id, binding);
  if (!updated) return { outcome: 'not_allowed' };
  deps.logger.info(
    {
      event: binding ? 'grant_binding_narrowed' : 'grant_binding_removed',
      grant: id,
      by: { kind: 'admin', email: viewer.email, address },
      client: record.clientId,
      job: {
        issuer: current.issuer,
        repository: parseSubject(current.sub)?.repository ?? null,
        sub: current.sub,
      },
      from: current.width,
      to: binding?.width ?? null,
    },
    binding
      ? 'grant binding narrowed: fewer CI jobs may exchange for its tokens'
      : 'grant binding removed: no CI job may exchange for its tokens; its refresh token still works',
  );
  return { outcome: 'changed', grant: { ...grant, requester: updated.requester }, binding };
}
