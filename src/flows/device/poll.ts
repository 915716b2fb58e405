/** RFC 8628 §3.4-3.5: the script polls the token endpoint until its handoff is answered. */
import type { DeviceClientConfig } from '../../config';
import {
  accessDenied,
  authorizationPending,
  expiredToken,
  invalidGrant,
  slowDown,
} from '../../errors';
import type { WebexTokens } from '../../webex/client';
import type { FlowDeps } from '../context';
import { type IssuedTokens, issueGrant } from '../grants/issue';
import {
  type HandoffRecord,
  TOMBSTONE_MS,
  decidedKey,
  expiredKey,
  handoffIdFor,
  handoffKey,
  openHandoff,
  pollKey,
  readHandoff,
  resultKey,
  saveWatch,
  slowKey,
} from './handoff';
import type { HandoffWaiters } from './waiters';
import { jobOf } from './workload';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8628 §3.5: each slow_down adds 5 seconds to the polling interval. */
const SLOW_DOWN_STEP_SECONDS = 5;

export interface PollInput {
  deviceCode: string;
  client: DeviceClientConfig;
  /** Seconds the client is willing to wait for a result (0: plain RFC behaviour). */
  waitSeconds: number;
}

/** What a successful poll hands the script: the tokens, who approved them, and the grant. */
export interface Delivery {
  tokens: IssuedTokens;
  approver: { name: string | null; email: string | null };
  grantId: string;
}

/** RFC 8628 §3.4-3.5: one poll of the token endpoint. */
export async function pollHandoff(
  deps: FlowDeps,
  waiters: HandoffWaiters,
  input: PollInput,
): Promise<Delivery> {
  const { store, config } = deps;
  const handoffId = handoffIdFor(deps, input.deviceCode);
  // One round trip: the record, the slow_down count, and the poll gate, shut for the current
  // interval (grown 5 s per slow_down) unless a poll already shut it.
  const {
    values: [raw],
    opened,
  } = await store.readAndOpenGate([handoffKey(handoffId), slowKey(handoffId)], {
    key: pollKey(handoffId),
    // A little slack so a client that waits exactly `interval` between polls is never penalised.
    ttlMs: Math.max(200, config.device.intervalSeconds * 1000 - 250),
    stepMs: SLOW_DOWN_STEP_SECONDS * 1000,
    countIndex: 1,
  });
  let record = openHandoff(deps, handoffId, raw);
  if (record === null) {
    // Absent, or failed its check: either way there is nothing this device code can get.
    throw unknownDeviceCode();
  }
  if (record.clientId !== input.client.id) {
    // Another client's guess must not use up the real client's poll.
    if (opened) await store.delete(pollKey(handoffId));
    throw unknownDeviceCode();
  }

  if (!opened) {
    const remaining = Math.max(1000, record.expiresAt - deps.now() + TOMBSTONE_MS);
    const { count } = await store.increment(slowKey(handoffId), remaining);
    // RFC 8628 §3.5: the grown interval holds from this poll on, so restart the gate with it.
    const grown = config.device.intervalSeconds + SLOW_DOWN_STEP_SECONDS * count;
    await store.set(pollKey(handoffId), '1', grown * 1000 - 250);
    throw slowDown(grown);
  }

  if (record.status === 'pending' && input.waitSeconds > 0 && record.expiresAt > deps.now()) {
    const waitMs = Math.min(input.waitSeconds * 1000, record.expiresAt - deps.now());
    const registration = await waiters.register(handoffId);
    // Re-read after subscribing, so an approval between the first read and now is not missed.
    const again = await readHandoff(deps, handoffId);
    if (again === null) {
      registration.cancel();
      throw unknownDeviceCode();
    }
    record = again;
    if (record.status === 'pending') {
      await registration.wait(waitMs);
      const after = await readHandoff(deps, handoffId);
      if (after === null) throw unknownDeviceCode();
      record = after;
    } else {
      registration.cancel();
    }
  }
  return answer(deps, handoffId, record);
}

async function answer(deps: FlowDeps, handoffId: string, record: HandoffRecord): Promise<Delivery> {
  if (record.status === 'denied') throw accessDenied(denyText(record.denyReason));
  if (record.status === 'cancelled') {
    throw invalidGrant(
      'This device code was revoked (the script cancelled its request). Start a new device authorization.',
    );
  }
  if (record.status === 'approved') {
    const sealed = await deps.store.take(resultKey(handoffId));
    if (sealed === null) throw unknownDeviceCode();
    const webexTokens = JSON.parse(deps.sealer.open(sealed, resultKey(handoffId))) as WebexTokens;
    // The grant starts now that its tokens leave: a handoff never picked up leaves none.
    const { grantId, tokens } = await issueGrant(deps, record, webexTokens);
    await deps.store.delete(
      handoffKey(handoffId),
      pollKey(handoffId),
      slowKey(handoffId),
      decidedKey(handoffId),
    );
    await saveWatch(deps, handoffId, 'delivered', record.expiresAt);
    deps.metrics.handoffs.inc({ event: 'delivered' });
    deps.logger.info(
      {
        event: 'handoff_delivered',
        client: record.clientId,
        grant: grantId,
        ...(record.workload ? { job: jobOf(record.workload) } : {}),
      },
      'tokens delivered to the script',
    );
    return {
      tokens,
      approver: { name: record.approver?.name ?? null, email: record.approver?.email ?? null },
      grantId,
    };
  }
  if (record.expiresAt <= deps.now()) {
    // Counted and logged once per handoff, however often the script polls afterwards.
    if (await deps.store.setIfAbsent(expiredKey(handoffId), '1', TOMBSTONE_MS)) {
      deps.metrics.handoffs.inc({ event: 'expired' });
      deps.logger.info(
        { event: 'handoff_expired', client: record.clientId, scopes: record.scopes },
        'script handoff expired before approval',
      );
    }
    throw expiredToken(
      'This request expired before an admin approved it. Start a new device authorization.',
    );
  }
  throw AUTHORIZATION_PENDING;
}

/**
 * The answer to almost every poll, built once: capturing a fresh stack trace on each pending poll
 * was a measurable share of the service's CPU under polling load (figures in docs/BENCHMARKS.md).
 * Nothing mutates it; the error handler only reads it.
 */
const AUTHORIZATION_PENDING = authorizationPending(
  'Waiting for an admin to approve the request at the verification URI.',
);

function denyText(reason: HandoffRecord['denyReason']): string {
  switch (reason) {
    case 'org_not_allowed':
      return 'The admin who approved belongs to a Webex organization this service does not serve; the tokens were discarded.';
    case 'invalid_scope':
      return "Webex refused the requested scopes: the admin who signed in is not entitled to them (typically a non-admin account asking for spark-admin scopes), or a scope is not enabled on the service's Webex integration.";
    case 'access_denied':
      return 'Webex refused the sign-in: it was declined, or an org policy does not allow this integration for that account.';
    default:
      return 'An admin denied this request.';
  }
}

function unknownDeviceCode() {
  return invalidGrant(
    'Unknown device_code, or its tokens were already delivered. Start a new device authorization.',
  );
}
