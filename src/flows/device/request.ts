/**
 * RFC 8628 §3.1-3.2: a script asks for a handoff; an admin finds it again by its user code.
 */
import type { DeviceClientConfig } from '../../config';
import { formatUserCode, generateUserCode, normalizeUserCode, randomToken } from '../../crypto';
import { HttpError } from '../../errors';
import type { FlowDeps } from '../context';
import { addressId, type RateLimitRule } from '../rate-limit';
import {
  type HandoffRecord,
  type HandoffWorkload,
  type PendingHandoff,
  handoffIdFor,
  openUserCode,
  readHandoff,
  saveHandoff,
  sealUserCode,
  userCodeKeyFor,
} from './handoff';
import { jobOf } from './workload';

export interface DeviceAuthorizationResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export interface HandoffRequest {
  client: DeviceClientConfig;
  scopes: string[];
  address: string;
  userAgent: string;
  /** The CI job whose ID token came with the request, already verified. */
  workload?: HandoffWorkload | null;
}

/** RFC 8628 §3.1-3.2: create a pending handoff (a `workload` must be verified before). */
export async function createHandoff(
  deps: FlowDeps,
  req: HandoffRequest,
): Promise<DeviceAuthorizationResponse> {
  const { config, store, now } = deps;
  const ttlMs = config.device.ttlSeconds * 1000;
  const deviceCode = randomToken(32);
  const handoffId = handoffIdFor(deps, deviceCode);

  let userCode = '';
  let userCodeKey = '';
  for (let attempt = 0; ; attempt++) {
    userCode = generateUserCode();
    userCodeKey = userCodeKeyFor(deps, userCode);
    const sealed = sealUserCode(deps, userCodeKey, handoffId);
    if (await store.setIfAbsent(userCodeKey, sealed, ttlMs)) break;
    if (attempt >= 5)
      throw new HttpError(
        503,
        'temporarily_unavailable',
        'Could not allocate a user code; try again.',
      );
  }

  const createdAt = now();
  const record: HandoffRecord = {
    clientId: req.client.id,
    clientName: req.client.name,
    scopes: req.scopes,
    requester: { address: req.address, userAgent: req.userAgent.slice(0, 200) },
    createdAt,
    expiresAt: createdAt + ttlMs,
    status: 'pending',
    userCodeKey,
    ...(req.workload ? { workload: req.workload } : {}),
  };
  await saveHandoff(deps, handoffId, record, { durable: false });
  deps.metrics.handoffs.inc({ event: 'requested' });
  deps.logger.info(
    {
      event: 'handoff_requested',
      client: req.client.id,
      scopes: req.scopes,
      address: req.address,
      ...(req.workload ? { job: jobOf(req.workload) } : {}),
    },
    req.workload ? 'script handoff requested by a verified CI job' : 'script handoff requested',
  );

  const verificationUri = `${config.publicUrl}/device`;
  const display = formatUserCode(userCode);
  return {
    device_code: deviceCode,
    user_code: display,
    verification_uri: verificationUri,
    verification_uri_complete: `${verificationUri}?user_code=${display}`,
    expires_in: config.device.ttlSeconds,
    interval: config.device.intervalSeconds,
  };
}

const userCodeRule = (deps: FlowDeps): RateLimitRule => ({
  name: 'user_code',
  limit: deps.config.rateLimit.userCodeFailures,
  windowSeconds: deps.config.rateLimit.windowSeconds,
  what: 'code entries',
});

/** Entries of one code, from anywhere: a code seen somewhere cannot be hammered from many addresses. */
const perCodeRule = (deps: FlowDeps): RateLimitRule => ({
  name: 'user_code_each',
  limit: deps.config.rateLimit.userCodeEntriesPerCode,
  windowSeconds: deps.config.rateLimit.windowSeconds,
  what: 'entries of this code',
  message:
    'This code was entered too many times in the last minutes, from one or more places, so it is paused.',
});

/** Wrong entries from everywhere together: a guessing run spread over many addresses. */
const globalRule = (deps: FlowDeps): RateLimitRule => ({
  name: 'user_code_global',
  limit: deps.config.rateLimit.userCodeGlobalFailures,
  windowSeconds: deps.config.rateLimit.windowSeconds,
  what: 'wrong codes',
  message:
    'Too many wrong codes were entered on this service recently (from everywhere, not only from you), so code entry is paused for everyone.',
});

const GLOBAL_ID = 'all';

/**
 * Find the pending handoff a person's typed code names. Wrong, expired and used codes all
 * give the same answer (null). Every entry is counted against the address (IPv6: its /64),
 * the browser and the code before the lookup, atomically, so a burst of concurrent entries
 * cannot all slip under the limit; wrong entries also count against a global budget.
 */
export async function findPendingHandoff(
  deps: FlowDeps,
  typed: string,
  who: { address: string; browserId: string },
): Promise<PendingHandoff | null> {
  const rule = userCodeRule(deps);
  const global = globalRule(deps);
  if (await deps.limiter.exhausted(global, GLOBAL_ID)) deps.limiter.reject(global);
  const code = normalizeUserCode(typed);
  await deps.limiter.hitAll([
    [rule, addressId(who.address)],
    [rule, `browser:${who.browserId}`],
    ...(code ? [[perCodeRule(deps), `code:${code}`] as const] : []),
  ]);
  const found = code ? await lookupPending(deps, userCodeKeyFor(deps, code)) : null;
  if (!found && (await deps.limiter.fail(global, GLOBAL_ID))) {
    deps.metrics.userCodeGlobalBudgetExhausted.inc();
    deps.logger.warn(
      { event: 'user_code_global_budget_exhausted', limit: global.limit },
      'wrong user codes from all sources used up the global budget: code entry is paused for everyone until the window ends (a distributed guessing run?)',
    );
  }
  return found;
}

async function lookupPending(deps: FlowDeps, userCodeKey: string): Promise<PendingHandoff | null> {
  const handoffId = openUserCode(deps, userCodeKey, await deps.store.get(userCodeKey));
  if (!handoffId) return null;
  const pending = await getPendingHandoff(deps, handoffId);
  // Both ends must agree: the handoff names the index that led to it.
  return pending && pending.record.userCodeKey === userCodeKey ? pending : null;
}

/**
 * Re-read a handoff by its id, when the admin posts Approve or Deny. A handoff the script
 * cancelled is not merely "not found": the admin is told the script gave up.
 */
export async function getPendingHandoff(
  deps: FlowDeps,
  handoffId: string,
): Promise<PendingHandoff | null> {
  const record = await readHandoff(deps, handoffId);
  if (!record) return null;
  if (record.status === 'cancelled') throw scriptGaveUp();
  if (record.status !== 'pending' || record.expiresAt <= deps.now()) return null;
  return { handoffId, record };
}

function scriptGaveUp(): HttpError {
  return new HttpError(
    410,
    'handoff_cancelled',
    'The script that asked for this code gave up waiting (it timed out or was stopped) and cancelled its request, so it can no longer be approved.',
    {
      title: 'The script gave up',
      hint: 'Nothing was issued. If the script still needs tokens, run it again and enter the new code it shows.',
    },
  );
}
