/**
 * RFC 8628 device authorization, brokered over Webex: the state machine of a script handoff.
 * pending → approved (tokens sealed in the store) → delivered once, or pending → denied,
 * or expired. No Koa in here.
 */
import {
  formatUserCode,
  generateUserCode,
  normalizeUserCode,
  randomToken,
  safeEqual,
} from '../crypto';
import type { DeviceClientConfig } from '../config';
import { HttpError, OAuthError } from '../errors';
import { checkRequestedScopes } from '../webex/scopes';
import type { WebexPerson, WebexTokens } from '../webex/client';
import type { FlowDeps } from './context';
import { type IssuedTokens, issueGrant } from './grants/issue';
import { addressId, type RateLimitRule } from './rate-limit';

/** RFC 8628 §3.5: each slow_down adds 5 seconds to the polling interval. */
const SLOW_DOWN_STEP_SECONDS = 5;

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** How long a resolved or expired handoff is remembered, so late polls get a precise answer. */
const TOMBSTONE_MS = 10 * 60 * 1000;
const HANDOFF_CHANNEL = 'handoff';

export interface HandoffRecord {
  clientId: string;
  clientName: string;
  scopes: string[];
  requester: { address: string; userAgent: string };
  createdAt: number;
  expiresAt: number;
  /** `cancelled`: the script gave up and revoked its device code (RFC 7009). */
  status: 'pending' | 'approved' | 'denied' | 'cancelled';
  denyReason?: 'declined' | 'access_denied' | 'invalid_scope' | 'org_not_allowed';
  approver?: { name?: string | null; email: string | null; orgId: string | null };
  /** Store key of the user-code index, to forget it on delivery. */
  userCodeKey: string;
}

export interface DeviceAuthorizationResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

// Every key of one handoff shares the hash tag {h}: the poll script reads and writes several of
// them at once, and in a Redis Cluster they must live on one node (which also lets one WAIT
// cover the whole decision). Different handoffs spread over the slots.
const handoffKey = (h: string) => `handoff:{${h}}`;
const resultKey = (h: string) => `result:{${h}}`;
const pollKey = (h: string) => `poll:{${h}}`;
const slowKey = (h: string) => `slow:{${h}}`;
const expiredKey = (h: string) => `expired:{${h}}`;
/** A handoff's id: the keyed hash of its device code, which names every key of the handoff. */
export const handoffId = (deps: Pick<FlowDeps, 'sealer'>, deviceCode: string) =>
  deps.sealer.hasher.digest('device_code', deviceCode);
const userCodeKey = (deps: Pick<FlowDeps, 'sealer'>, code: string) =>
  `ucode:${deps.sealer.hasher.digest('user_code', code)}`;
const decidedKey = (h: string) => `decided:{${h}}`;
/**
 * What the approving admin's page polls: keyed by a second hash so that nothing named after
 * the device code outlives the delivery, and holding only the state, never a token.
 */
const watchKey = (w: string) => `watch:${w}`;
const watchIdFor = (deps: Pick<FlowDeps, 'sealer'>, h: string) =>
  deps.sealer.hasher.digest('watch', h);

/** The handoff as the approving admin's page shows it, after approval. */
export type WatchState = 'approved' | 'delivered' | 'cancelled' | 'expired';
interface WatchRecord {
  state: Exclude<WatchState, 'expired'>;
  expiresAt: number;
}

export interface ClientCredentials {
  clientId?: string;
  clientSecret?: string;
  /** True when the request carried credentials (Basic header or client_secret). */
  authenticated: boolean;
}

/** RFC 6749 §2.3: find the client, and make confidential clients prove who they are. */
export function authenticateClient(deps: FlowDeps, creds: ClientCredentials): DeviceClientConfig {
  const client = creds.clientId
    ? deps.config.device.clients.find((c) => c.id === creds.clientId)
    : undefined;
  const unknown = () =>
    new OAuthError(
      creds.authenticated ? 401 : 400,
      'invalid_client',
      creds.clientId
        ? `Unknown client_id "${creds.clientId.slice(0, 64).replace(/[^\w.-]/g, '?')}". Ask the operators which client id to use (the bundled CLI uses "cli").`
        : 'client_id is required.',
      {
        headers: creds.authenticated
          ? { 'WWW-Authenticate': 'Basic realm="webex-scoped-tokens"' }
          : {},
      },
    );
  if (!client) throw unknown();
  if (client.secret) {
    if (!creds.clientSecret || !safeEqual(creds.clientSecret, client.secret)) {
      throw new OAuthError(
        401,
        'invalid_client',
        `Client "${client.id}" is confidential: authenticate with its client secret (HTTP Basic or client_secret).`,
        {
          headers: { 'WWW-Authenticate': 'Basic realm="webex-scoped-tokens"' },
        },
      );
    }
  }
  return client;
}

/** Which scopes a handoff may get: static mode grants exactly SCOPES; dynamic checks the lists. */
export function resolveHandoffScopes(
  deps: FlowDeps,
  client: DeviceClientConfig,
  requested: string,
): string[] {
  const { config } = deps;
  if (config.scopesMode === 'static') {
    const check = checkRequestedScopes(requested, config.staticScopes);
    if (check.problems.length > 0) throw invalidScope(check.problems);
    return config.staticScopes;
  }
  const allowed = client.scopes
    ? config.allowedScopes.filter((s) => client.scopes!.includes(s))
    : config.allowedScopes;
  const check = checkRequestedScopes(requested, allowed);
  if (check.problems.length > 0) throw invalidScope(check.problems);
  if (check.ok.length === 0) {
    throw new OAuthError(
      400,
      'invalid_scope',
      'Ask for at least one scope, space-separated in the "scope" parameter (see scopes_supported in the server metadata).',
    );
  }
  return check.ok;
}

function invalidScope(problems: { scope: string; reason: string }[]): OAuthError {
  const text = problems
    .slice(0, 10)
    .map((p) => `${p.scope.slice(0, 80)} ${p.reason}`)
    .join('; ');
  return new OAuthError(400, 'invalid_scope', `Refused scopes: ${text}.`);
}

export interface HandoffRequest {
  client: DeviceClientConfig;
  scopes: string[];
  address: string;
  userAgent: string;
}

/** RFC 8628 §3.1-3.2: create a pending handoff. */
export async function createHandoff(
  deps: FlowDeps,
  req: HandoffRequest,
): Promise<DeviceAuthorizationResponse> {
  const { config, store, now } = deps;
  const ttlMs = config.device.ttlSeconds * 1000;
  const deviceCode = randomToken(32);
  const h = handoffId(deps, deviceCode);

  let userCode = '';
  let ucKey = '';
  for (let attempt = 0; ; attempt++) {
    userCode = generateUserCode();
    ucKey = userCodeKey(deps, userCode);
    if (await store.setIfAbsent(ucKey, h, ttlMs)) break;
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
    userCodeKey: ucKey,
  };
  await store.set(handoffKey(h), JSON.stringify(record), ttlMs + TOMBSTONE_MS);
  deps.metrics.handoffs.inc({ event: 'requested' });
  deps.logger.info(
    { event: 'handoff_requested', client: req.client.id, scopes: req.scopes, address: req.address },
    'script handoff requested',
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

export interface PendingHandoff {
  handoff: string;
  record: HandoffRecord;
}

export const userCodeRule = (deps: FlowDeps): RateLimitRule => ({
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
  const found = code ? await lookupPending(deps, userCodeKey(deps, code)) : null;
  if (!found && (await deps.limiter.fail(global, GLOBAL_ID))) {
    deps.metrics.userCodeGlobalBudgetExhausted.inc();
    deps.logger.warn(
      { event: 'user_code_global_budget_exhausted', limit: global.limit },
      'wrong user codes from all sources used up the global budget: code entry is paused for everyone until the window ends (a distributed guessing run?)',
    );
  }
  return found;
}

async function lookupPending(deps: FlowDeps, ucKey: string): Promise<PendingHandoff | null> {
  const h = await deps.store.get(ucKey);
  if (!h) return null;
  return getPendingHandoff(deps, h);
}

/**
 * Re-read a handoff by its hash, when the admin posts Approve or Deny. A handoff the script
 * cancelled is not merely "not found": the admin is told the script gave up.
 */
export async function getPendingHandoff(deps: FlowDeps, h: string): Promise<PendingHandoff | null> {
  const raw = await deps.store.get(handoffKey(h));
  if (!raw) return null;
  const record = JSON.parse(raw) as HandoffRecord;
  if (record.status === 'cancelled') throw scriptGaveUp();
  if (record.status !== 'pending' || record.expiresAt <= deps.now()) return null;
  return { handoff: h, record };
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

/**
 * The last write of an approval or a denial, so it is durable: it waits for the replicas
 * (REDIS_WAIT_REPLICAS), covering the decision and the sealed result written before it.
 */
async function saveRecord(deps: FlowDeps, h: string, record: HandoffRecord): Promise<void> {
  const ttl = Math.max(1, record.expiresAt - deps.now()) + TOMBSTONE_MS;
  await deps.store.set(handoffKey(h), JSON.stringify(record), ttl, { durable: true });
}

/**
 * Only the first answer to a handoff counts: two admins (or two tabs) approving or denying at
 * the same moment must not overwrite each other's result. Atomic in the store.
 */
async function claimDecision(deps: FlowDeps, pending: PendingHandoff): Promise<void> {
  const ttl = Math.max(1, pending.record.expiresAt - deps.now()) + TOMBSTONE_MS;
  if (!(await deps.store.setIfAbsent(decidedKey(pending.handoff), '1', ttl))) {
    // Cancellation claims the decision too; say so rather than "answered in another tab".
    await getPendingHandoff(deps, pending.handoff);
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

/** Deny a pending handoff and wake its pollers. */
export async function denyHandoff(
  deps: FlowDeps,
  pending: PendingHandoff,
  reason: NonNullable<HandoffRecord['denyReason']>,
  by?: WebexPerson | null,
): Promise<void> {
  await claimDecision(deps, pending);
  const record: HandoffRecord = {
    ...pending.record,
    status: 'denied',
    denyReason: reason,
    ...(by ? { approver: approverOf(by) } : {}),
  };
  await saveRecord(deps, pending.handoff, record);
  await deps.store.delete(record.userCodeKey);
  deps.metrics.handoffs.inc({ event: 'denied' });
  deps.logger.info(
    {
      event: 'handoff_denied',
      client: record.clientId,
      reason,
      by: record.approver?.email ?? null,
      orgId: record.approver?.orgId ?? null,
    },
    'script handoff denied',
  );
  await notify(deps, pending.handoff);
}

function approverOf(by: WebexPerson | null): NonNullable<HandoffRecord['approver']> {
  return {
    name: by?.displayName?.slice(0, 200) ?? null,
    email: by?.emails?.[0] ?? null,
    orgId: by?.orgId ?? null,
  };
}

async function saveWatch(
  deps: FlowDeps,
  h: string,
  state: WatchRecord['state'],
  expiresAt: number,
): Promise<void> {
  const ttl = Math.max(1, expiresAt - deps.now()) + TOMBSTONE_MS;
  const record: WatchRecord = { state, expiresAt };
  await deps.store.set(watchKey(watchIdFor(deps, h)), JSON.stringify(record), ttl);
}

/**
 * Seal the tokens for the script, mark the handoff approved and wake its pollers. Returns the
 * id the admin's page polls (`handoffState`) to learn whether the script picked them up.
 */
export async function approveHandoff(
  deps: FlowDeps,
  pending: PendingHandoff,
  tokens: WebexTokens,
  by: WebexPerson | null,
): Promise<{ watchId: string }> {
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
    resultKey(pending.handoff),
    deps.sealer.seal(JSON.stringify(tokens), resultKey(pending.handoff)),
    remaining,
  );
  const record: HandoffRecord = {
    ...pending.record,
    status: 'approved',
    approver: approverOf(by),
  };
  await saveWatch(deps, pending.handoff, 'approved', record.expiresAt);
  await saveRecord(deps, pending.handoff, record);
  await deps.store.delete(record.userCodeKey);
  deps.metrics.handoffs.inc({ event: 'approved' });
  deps.logger.info(
    {
      event: 'handoff_approved',
      client: record.clientId,
      by: record.approver?.email ?? null,
      orgId: record.approver?.orgId ?? null,
      scopes: record.scopes,
    },
    'script handoff approved',
  );
  await notify(deps, pending.handoff);
  return { watchId: watchIdFor(deps, pending.handoff) };
}

/** What the approving admin's page shows: picked up, still waiting, given up, or too late. */
export async function handoffState(deps: FlowDeps, watchId: string): Promise<WatchState | null> {
  const raw = await deps.store.get(watchKey(watchId));
  if (raw === null) return null;
  const watch = JSON.parse(raw) as WatchRecord;
  return watch.state === 'approved' && watch.expiresAt <= deps.now() ? 'expired' : watch.state;
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
  const h = handoffId(deps, deviceCode);
  const read = async (): Promise<HandoffRecord | null> => {
    const raw = await deps.store.get(handoffKey(h));
    const r = raw === null ? null : (JSON.parse(raw) as HandoffRecord);
    return r && r.clientId === client.id ? r : null;
  };
  let record = await read();
  if (record === null) return false;
  let cancelled: HandoffRecord | null = null;
  if (record.status === 'pending') {
    const ttl = Math.max(1, record.expiresAt - deps.now()) + TOMBSTONE_MS;
    if (await deps.store.setIfAbsent(decidedKey(h), 'cancelled', ttl)) {
      // The user-code index stays until expiry, so an admin who types the code learns why.
      cancelled = { ...record, status: 'cancelled' };
    } else {
      // An admin answered at the same moment: treat the handoff as what it became.
      record = await read();
      if (record === null) return false;
    }
  }
  if (record.status === 'approved') {
    // Whoever takes the sealed result wins: the poll (delivered) or this cancellation.
    if ((await deps.store.take(resultKey(h))) === null) return false;
    cancelled = { ...record, status: 'cancelled' };
    await saveWatch(deps, h, 'cancelled', record.expiresAt);
  }
  if (!cancelled) return false;
  await saveRecord(deps, h, cancelled);
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
  await notify(deps, h);
  return true;
}

async function notify(deps: FlowDeps, h: string): Promise<void> {
  // Pollers fall back to their next poll if the wake-up is lost, so a failed publish is not fatal.
  await deps.store.publish(HANDOFF_CHANNEL, h).catch((err: unknown) => {
    deps.logger.warn(
      { event: 'publish_failed', reason: (err as Error).message },
      'could not wake waiting pollers',
    );
  });
}

/**
 * Lets waiting polls sleep until their handoff changes. One store subscription per process,
 * however many polls wait; approvals on any replica wake them.
 */
export class HandoffWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private subscription: Promise<unknown> | undefined;
  private closed = false;

  constructor(private readonly deps: Pick<FlowDeps, 'store'>) {}

  private ensureSubscribed(): Promise<unknown> {
    this.subscription ??= this.deps.store
      .subscribe(
        HANDOFF_CHANNEL,
        (h) => this.wake(h),
        () => void this.recheck(),
      )
      .catch((err: unknown) => {
        this.subscription = undefined;
        throw err;
      });
    return this.subscription;
  }

  private wake(h: string): void {
    const set = this.waiting.get(h);
    if (!set) return;
    this.waiting.delete(h);
    for (const fn of set) fn();
  }

  /**
   * The subscription came back after a break (a Redis failover): a wake-up sent meanwhile was
   * lost, so read every waited-on handoff once and wake those no longer pending.
   */
  private async recheck(): Promise<void> {
    const hs = [...this.waiting.keys()];
    if (hs.length === 0) return;
    const raws = await this.deps.store.getMany(hs.map(handoffKey)).catch(() => null);
    if (!raws) return;
    hs.forEach((h, i) => {
      const raw = raws[i];
      if (!raw || (JSON.parse(raw) as HandoffRecord).status !== 'pending') this.wake(h);
    });
  }

  /** Resolve after a change to `h`, after `ms`, or at shutdown, whichever comes first. */
  async register(h: string): Promise<{ wait: (ms: number) => Promise<void>; cancel: () => void }> {
    await this.ensureSubscribed();
    let done: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => (done = resolve));
    const set = this.waiting.get(h) ?? new Set();
    set.add(done);
    this.waiting.set(h, set);
    const cancel = () => {
      const s = this.waiting.get(h);
      s?.delete(done);
      if (s && s.size === 0) this.waiting.delete(h);
      done();
    };
    return {
      wait: (ms: number) => {
        if (this.closed) return Promise.resolve();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
        return Promise.race([woken, timeout]).finally(() => {
          clearTimeout(timer);
          cancel();
        });
      },
      cancel,
    };
  }

  /** How many polls are waiting right now. */
  get size(): number {
    let n = 0;
    for (const s of this.waiting.values()) n += s.size;
    return n;
  }

  /** Shutdown: answer every waiting poll now. */
  releaseAll(): void {
    this.closed = true;
    for (const h of [...this.waiting.keys()]) this.wake(h);
  }
}

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
  const h = handoffId(deps, input.deviceCode);
  // One round trip: the record, the slow_down count, and the poll gate, shut for the current
  // interval (grown 5 s per slow_down) unless a poll already shut it.
  const {
    values: [raw],
    opened,
  } = await store.readAndGate([handoffKey(h), slowKey(h)], {
    key: pollKey(h),
    // A little slack so a client that waits exactly `interval` between polls is never penalised.
    ttlMs: Math.max(200, config.device.intervalSeconds * 1000 - 250),
    stepMs: SLOW_DOWN_STEP_SECONDS * 1000,
    countIndex: 1,
  });
  if (raw === null || raw === undefined) throw invalidGrant();
  let record = JSON.parse(raw) as HandoffRecord;
  if (record.clientId !== input.client.id) {
    // Another client's guess must not use up the real client's poll.
    if (opened) await store.delete(pollKey(h));
    throw invalidGrant();
  }

  if (!opened) {
    const remaining = Math.max(1000, record.expiresAt - deps.now() + TOMBSTONE_MS);
    const { count } = await store.increment(slowKey(h), remaining);
    // RFC 8628 §3.5: the grown interval holds from this poll on, so restart the gate with it.
    const grown = config.device.intervalSeconds + SLOW_DOWN_STEP_SECONDS * count;
    await store.set(pollKey(h), '1', grown * 1000 - 250);
    throw new OAuthError(
      400,
      'slow_down',
      `Polling too fast: wait at least ${grown} seconds between polls.`,
      { routine: true },
    );
  }

  if (record.status === 'pending' && input.waitSeconds > 0 && record.expiresAt > deps.now()) {
    const waitMs = Math.min(input.waitSeconds * 1000, record.expiresAt - deps.now());
    const registration = await waiters.register(h);
    // Re-read after subscribing, so an approval between the first read and now is not missed.
    const again = await store.get(handoffKey(h));
    if (again === null) {
      registration.cancel();
      throw invalidGrant();
    }
    record = JSON.parse(again) as HandoffRecord;
    if (record.status === 'pending') {
      await registration.wait(waitMs);
      const after = await store.get(handoffKey(h));
      if (after === null) throw invalidGrant();
      record = JSON.parse(after) as HandoffRecord;
    } else {
      registration.cancel();
    }
  }
  return answer(deps, h, record);
}

async function answer(deps: FlowDeps, h: string, record: HandoffRecord): Promise<Delivery> {
  if (record.status === 'denied') {
    throw new OAuthError(400, 'access_denied', denyText(record.denyReason));
  }
  if (record.status === 'cancelled') {
    throw new OAuthError(
      400,
      'invalid_grant',
      'This device code was revoked (the script cancelled its request). Start a new device authorization.',
    );
  }
  if (record.status === 'approved') {
    const sealed = await deps.store.take(resultKey(h));
    if (sealed === null) throw invalidGrant();
    const webexTokens = JSON.parse(deps.sealer.open(sealed, resultKey(h))) as WebexTokens;
    // The grant starts now that its tokens leave: a handoff never picked up leaves none.
    const { grantId, tokens } = await issueGrant(deps, record, webexTokens);
    await deps.store.delete(handoffKey(h), pollKey(h), slowKey(h), decidedKey(h));
    await saveWatch(deps, h, 'delivered', record.expiresAt);
    deps.metrics.handoffs.inc({ event: 'delivered' });
    deps.logger.info(
      { event: 'handoff_delivered', client: record.clientId, grant: grantId },
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
    if (await deps.store.setIfAbsent(expiredKey(h), '1', TOMBSTONE_MS)) {
      deps.metrics.handoffs.inc({ event: 'expired' });
      deps.logger.info(
        { event: 'handoff_expired', client: record.clientId, scopes: record.scopes },
        'script handoff expired before approval',
      );
    }
    throw new OAuthError(
      400,
      'expired_token',
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
const AUTHORIZATION_PENDING = new OAuthError(
  400,
  'authorization_pending',
  'Waiting for an admin to approve the request at the verification URI.',
  { routine: true },
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

function invalidGrant(): OAuthError {
  return new OAuthError(
    400,
    'invalid_grant',
    'Unknown device_code, or its tokens were already delivered. Start a new device authorization.',
  );
}

/** The shared secret for Approve/Deny forms: a keyed hash of the browser cookie. */
export function csrfTokenFor(deps: Pick<FlowDeps, 'sealer'>, browserId: string): string {
  return deps.sealer.hasher.digest('csrf', browserId);
}

export function checkCsrf(
  deps: Pick<FlowDeps, 'sealer'>,
  browserId: string | undefined,
  token: string | undefined,
): void {
  if (!browserId || !token || !safeEqual(csrfTokenFor(deps, browserId), token)) {
    throw new HttpError(
      403,
      'csrf',
      'This form was not submitted from the page we showed you (its security token is missing or wrong).',
      {
        title: 'Request not accepted',
        hint: 'Go back to the verification page, reload it, and use its buttons. Cookies must be enabled.',
      },
    );
  }
}
