/**
 * An admin's answer to a pending handoff (approve or deny), and the script's own cancellation
 * (RFC 7009). Only the first answer counts; each one wakes the waiting polls.
 */
import type { DeviceClientConfig } from '../../config';
import { HttpError } from '../../errors';
import type { WebexPerson, WebexTokens } from '../../webex/client';
import { type BindingWidth, bindingFor } from '../../workload/binding';
import type { FlowDeps } from '../context';
import {
  type HandoffRecord,
  type PendingHandoff,
  decidedKey,
  handoffIdFor,
  notify,
  readHandoff,
  remainingTtl,
  resultKey,
  saveHandoff,
  saveWatch,
  watchIdFor,
} from './handoff';
import { getPendingHandoff } from './request';
import { jobOf } from './workload';

/**
 * Only the first answer to a handoff counts: two admins (or two tabs) approving or denying at
 * the same moment must not overwrite each other's result. Atomic in the store.
 */
async function claimDecision(deps: FlowDeps, pending: PendingHandoff): Promise<void> {
  const ttl = remainingTtl(deps, pending.record.expiresAt);
  if (!(await deps.store.setIfAbsent(decidedKey(pending.handoffId), '1', ttl))) {
    // Cancellation claims the decision too; say so rather than "answered in another tab".
    await getPendingHandoff(deps, pending.handoffId);
    throw new HttpError(
      409,
      'already_answered',
      'This request was already approved or denied, in another tab or by another admin. Any tokens from this sign-in were discarded.',
      {
        title: 'Request already answered',
        hint: 'Nothing more to do here. If the script still needs tokens, ask it to start a new request.',
      },
    );
  }
}

/**
 * The last steps of either answer: the decided record, durably; the user code forgotten; the
 * audit line; the waiting polls woken.
 */
async function settle(
  deps: FlowDeps,
  handoffId: string,
  decided: HandoffRecord & { status: 'approved' | 'denied' },
  audit: Record<string, unknown>,
  message: string,
): Promise<void> {
  await saveHandoff(deps, handoffId, decided);
  await deps.store.delete(decided.userCodeKey);
  deps.metrics.handoffs.inc({ event: decided.status });
  deps.logger.info(
    { event: `handoff_${decided.status}`, client: decided.clientId, ...audit },
    message,
  );
  await notify(deps, handoffId);
}

/** Deny a pending handoff and wake its pollers. */
export async function denyHandoff(
  deps: FlowDeps,
  pending: PendingHandoff,
  reason: NonNullable<HandoffRecord['denyReason']>,
  by?: WebexPerson | null,
): Promise<void> {
  await claimDecision(deps, pending);
  const decided = {
    ...pending.record,
    status: 'denied' as const,
    denyReason: reason,
    ...(by ? { approver: approverOf(by) } : {}),
  };
  await settle(
    deps,
    pending.handoffId,
    decided,
    {
      reason,
      by: decided.approver?.email ?? null,
      orgId: decided.approver?.orgId ?? null,
    },
    'script handoff denied',
  );
}

function approverOf(by: WebexPerson | null): NonNullable<HandoffRecord['approver']> {
  return {
    name: by?.displayName?.slice(0, 200) ?? null,
    email: by?.emails?.[0] ?? null,
    orgId: by?.orgId ?? null,
  };
}

/**
 * Seal the tokens for the script, mark the handoff approved and wake its pollers. A verified
 * CI job's request is bound to that job at `width` (checked on the approval form); the grant
 * inherits the binding. Returns the id the admin's page polls (`handoffState`) to learn
 * whether the script picked the tokens up.
 */
export async function approveHandoff(
  deps: FlowDeps,
  pending: PendingHandoff,
  tokens: WebexTokens,
  by: WebexPerson | null,
  width: BindingWidth = 'subject',
): Promise<{ watchId: string }> {
  const { handoffId } = pending;
  const remaining = pending.record.expiresAt - deps.now();
  if (remaining <= 0) {
    throw new HttpError(
      410,
      'expired_token',
      "The script's request expired while you were signing in, so the tokens were discarded.",
      {
        title: 'Request expired',
        hint: 'Ask the script to start a new request, then approve it within its time limit.',
      },
    );
  }
  await claimDecision(deps, pending);
  // The result first, then the status: a poller that sees "approved" always finds the tokens.
  await deps.store.set(
    resultKey(handoffId),
    deps.sealer.seal(JSON.stringify(tokens), resultKey(handoffId)),
    remaining,
  );
  const { workload } = pending.record;
  const binding = workload ? bindingFor(workload, width) : null;
  const decided = {
    ...pending.record,
    status: 'approved' as const,
    approver: approverOf(by),
    ...(binding ? { requester: { ...pending.record.requester, workload: binding } } : {}),
  };
  await saveWatch(deps, handoffId, 'approved', decided.expiresAt);
  await settle(
    deps,
    handoffId,
    decided,
    {
      by: decided.approver.email,
      orgId: decided.approver.orgId,
      scopes: decided.scopes,
      ...(workload && binding ? { job: jobOf(workload), binding: binding.width } : {}),
    },
    binding ? 'script handoff approved and bound to its CI job' : 'script handoff approved',
  );
  return { watchId: watchIdFor(deps, handoffId) };
}

/**
 * RFC 7009 for a device code: the script gave up. A pending handoff can no longer be approved
 * (the admin is told why); approved tokens not yet picked up are discarded. A code of another
 * client, an unknown one, or a finished handoff: nothing happens (RFC 7009 §2.2 still says 200).
 */
export async function cancelHandoff(
  deps: FlowDeps,
  deviceCode: string,
  client: DeviceClientConfig,
): Promise<boolean> {
  const handoffId = handoffIdFor(deps, deviceCode);
  const readOwn = async (): Promise<HandoffRecord | null> => {
    const found = await readHandoff(deps, handoffId);
    return found && found.clientId === client.id ? found : null;
  };
  let record = await readOwn();
  if (record === null) return false;
  let cancelled: HandoffRecord | null = null;
  if (record.status === 'pending') {
    const ttl = remainingTtl(deps, record.expiresAt);
    if (await deps.store.setIfAbsent(decidedKey(handoffId), 'cancelled', ttl)) {
      // The user-code index stays until expiry, so an admin who types the code learns why.
      cancelled = { ...record, status: 'cancelled' };
    } else {
      // An admin answered at the same moment: treat the handoff as what it became.
      record = await readOwn();
      if (record === null) return false;
    }
  }
  if (record.status === 'approved') {
    // Whoever takes the sealed result wins: the poll (delivered) or this cancellation.
    if ((await deps.store.take(resultKey(handoffId))) === null) return false;
    cancelled = { ...record, status: 'cancelled' };
    await saveWatch(deps, handoffId, 'cancelled', record.expiresAt);
  }
  if (!cancelled) return false;
  await saveHandoff(deps, handoffId, cancelled);
  deps.metrics.handoffs.inc({ event: 'cancelled' });
  deps.logger.info(
    {
      event: 'handoff_cancelled',
      client: record.clientId,
      after: record.status,
      scopes: record.scopes,
    },
    record.status === 'approved'
      ? 'the script gave up after approval; its tokens were discarded'
      : 'the script gave up; its request can no longer be approved',
  );
  await notify(deps, handoffId);
  return true;
}
