/**
 * The authorization-code flow with Webex, shared by the browser flow (tokens shown to the
 * admin) and the script handoff (tokens delivered to a polling script). No Koa in here.
 */
import { pkceChallenge, randomToken, safeEqual } from '../crypto';
import { HttpError, StateError, UpstreamError, invalidRequest } from '../errors';
import type { WebexPerson, WebexTokens } from '../webex/client';
import type { BindingWidth } from '../workload/binding';
import { canReadPeopleMe, identityScopeFor } from '../webex/scopes';
import type { FlowDeps } from './context';
import { openRecord, sealRecord } from './records';

/** What the store keeps between /start and /oauth, under the keyed hash of `state`. */
interface FlowRecord {
  kind: FlowKind;
  scopes: string[];
  /** The scope added so the service learns who signed in (also asked of Webex), if any. */
  identity?: string;
  /** Keyed hash of the browser-binding cookie value. */
  binding: string;
  /** The PKCE verifier, sealed. */
  verifier: string;
  /** Device flow: hash of the device code being approved. */
  handoff?: string;
  /** Device flow: how widely the approving admin chose to bind a verified CI job. */
  width?: BindingWidth;
  createdAt: number;
}

/** browser: tokens shown to the admin; device: a script's handoff; console: the grants console. */
type FlowKind = 'browser' | 'device' | 'console';

export interface StartOptions {
  kind: FlowKind;
  scopes: string[];
  browserId: string;
  handoff?: string;
  width?: BindingWidth;
}

const flowKey = (stateHash: string) => `flow:${stateHash}`;
const spentKey = (stateHash: string) => `spent:${stateHash}`;

/** The one place a flow record is written: sealed, bound to its key (records.ts). */
const sealFlow = (deps: FlowDeps, stateHash: string, record: FlowRecord) =>
  sealRecord(deps, 'flow', flowKey(stateHash), record);
const openFlow = (deps: FlowDeps, stateHash: string, raw: string | null) =>
  openRecord<FlowRecord>(deps, 'flow', flowKey(stateHash), raw);

/** Create state + PKCE in the store and return where to send the browser. */
export async function startAuthorization(deps: FlowDeps, opts: StartOptions): Promise<string> {
  const state = randomToken(32);
  const verifier = randomToken(48);
  const stateHash = deps.sealer.hasher.digest('state', state);
  const identity = identityScopeFor(deps.config.identityScope, opts.scopes);
  const record: FlowRecord = {
    kind: opts.kind,
    scopes: opts.scopes,
    ...(identity ? { identity } : {}),
    binding: deps.sealer.hasher.digest('browser', opts.browserId),
    verifier: deps.sealer.seal(verifier, flowKey(stateHash)),
    ...(opts.handoff ? { handoff: opts.handoff } : {}),
    ...(opts.width ? { width: opts.width } : {}),
    createdAt: deps.now(),
  };
  await deps.store.set(
    flowKey(stateHash),
    sealFlow(deps, stateHash, record),
    deps.config.flowTtlSeconds * 1000,
  );
  deps.metrics.flowsStarted.inc({ kind: opts.kind });
  return deps.webex.authorizeUrl({
    scopes: identity ? [...opts.scopes, identity] : opts.scopes,
    state,
    codeChallenge: pkceChallenge(verifier),
  });
}

/** Explanations for errors Webex sends back on the redirect. Webex's own text is never shown. */
function webexRedirectError(code: string, opts: { verified?: boolean } = {}): HttpError {
  if (code === 'access_denied') {
    return new HttpError(
      403,
      'access_denied',
      'The sign-in was declined, or your Webex organization has a policy that does not allow this integration for your account.',
      {
        title: 'Access denied',
        hint: 'If you declined by mistake, start again. Otherwise contact the administrator of your Webex organization, or sign in with a different Webex account.',
      },
    );
  }
  if (code === 'invalid_scope') {
    return new HttpError(
      403,
      'invalid_scope',
      "Webex refused the requested scopes. Either your Webex account is not entitled to them (a standard user asking for admin, compliance or partner scopes), or a scope is not enabled on this service's Webex integration.",
      {
        title: 'Scopes refused by Webex',
        hint: 'Sign in with a full administrator (or compliance officer) account of the organization, or pick fewer scopes. If an administrator gets this too, the operators need to tick the scopes on the integration at developer.webex.com and list them in ALLOWED_SCOPES.',
      },
    );
  }
  const safe = /^[a-z_]{1,40}$/.test(code) ? code : 'unknown';
  // Without a verified state anyone can craft this address, so it is not blamed on Webex (5xx).
  return new HttpError(
    opts.verified === false ? 400 : 502,
    'webex_error',
    `Webex did not complete the sign-in and returned the error code "${safe}".`,
    {
      title: 'Webex did not complete the sign-in',
      hint: 'Start again; if it keeps happening, the operators should check the integration on developer.webex.com.',
      expose: true,
    },
  );
}

/**
 * Webex's error_description, fit for the log. Anyone can put anything in this parameter, so
 * token-shaped words (long, mixed-case runs) are dropped: the log never holds a secret.
 */
function loggableDescription(text: string | undefined): string | null {
  if (text === undefined) return null;
  return text
    .slice(0, 300)
    .replace(/[^\x20-\x7e]/g, '?')
    .split(' ')
    .map((w) => (/^(?=(?:.*[A-Z]){2})(?=.*[a-z0-9])[\w+/=.-]{12,}$/.test(w) ? '[redacted]' : w))
    .join(' ');
}

export interface CallbackInput {
  state?: string;
  code?: string;
  error?: string;
  /** Webex's own words about the error: logged, never shown. */
  errorDescription?: string;
  browserId?: string;
  /** The page put `used=1` in place of code and state after showing them (public/app.js). */
  used?: boolean;
}

/** What the sign-in granted: Webex grants every requested scope or refuses the sign-in. */
export interface GrantedScopes {
  /** Every scope asked of Webex, the identity scope included. */
  scopes: string[];
  /** The scope the service added to learn who signed in, if any. */
  identity: string | null;
  /** True when Webex named the scopes itself; false when they are the requested ones. */
  fromWebex: boolean;
}

export type CallbackResult =
  | { kind: 'browser'; tokens: WebexTokens; person: WebexPerson | null; granted: GrantedScopes }
  /** The grants console's sign-in: only who signed in matters; the tokens are dropped. */
  | { kind: 'console'; person: WebexPerson | null; granted: GrantedScopes }
  | {
      kind: 'device';
      handoff: string;
      width?: BindingWidth;
      tokens: WebexTokens | null;
      person: WebexPerson | null;
      granted?: GrantedScopes;
      error?: HttpError;
    };

/**
 * Verify the state against the store and the browser, then finish with Webex.
 * Throws StateError before any call to Webex when the state is not right. An `error` from
 * Webex is read first: whether `state` comes back with it is not documented, so without a
 * usable state the page explains Webex's error rather than a state problem.
 */
export async function completeAuthorization(
  deps: FlowDeps,
  input: CallbackInput,
): Promise<CallbackResult> {
  if (input.error !== undefined) {
    deps.logger.info(
      {
        event: 'webex_redirect_error',
        error: /^[a-z_]{1,40}$/.test(input.error) ? input.error : 'unknown',
        description: loggableDescription(input.errorDescription),
        withState: Boolean(input.state),
      },
      'Webex sent an error back on the redirect',
    );
    try {
      return await verifiedCallback(deps, input);
    } catch (err) {
      if (!(err instanceof StateError)) throw err;
      deps.logger.info(
        { event: 'webex_redirect_error_without_flow', problem: err.problem },
        'no usable sign-in state came with the error; explaining the error alone',
      );
      deps.metrics.flowsCompleted.inc({ kind: 'unknown', outcome: 'webex_error_no_state' });
      throw webexRedirectError(input.error, { verified: false });
    }
  }
  return verifiedCallback(deps, input);
}

async function verifiedCallback(deps: FlowDeps, input: CallbackInput): Promise<CallbackResult> {
  if (!input.state) throw new StateError(input.used ? 'used' : 'missing');
  const stateHash = deps.sealer.hasher.digest('state', input.state);
  // Read and check the browser before taking: whoever holds a leaked callback address but not
  // this browser's cookie cannot burn the sign-in for the person who started it.
  const raw = await deps.store.get(flowKey(stateHash));
  if (raw === null) {
    const spent = await deps.store.get(spentKey(stateHash));
    throw new StateError(spent ? 'replayed' : 'expired');
  }
  const record = openFlow(deps, stateHash, raw);
  if (record === null) throw new StateError('rejected');
  // A record put back after its key expired is still authentic; its own clock says it is not.
  if (record.createdAt + deps.config.flowTtlSeconds * 1000 <= deps.now())
    throw new StateError('expired');
  if (!input.browserId) throw new StateError('no_cookie', deps.config.publicUrl);
  if (!safeEqual(deps.sealer.hasher.digest('browser', input.browserId), record.binding))
    throw new StateError('mismatch');
  // Single use: of concurrent callbacks from this browser, one takes the record.
  const taken = await deps.store.take(flowKey(stateHash));
  if (taken !== raw) throw new StateError(taken === null ? 'replayed' : 'rejected');
  await deps.store.set(spentKey(stateHash), '1', deps.config.flowTtlSeconds * 1000);

  const outcome = (o: string) => deps.metrics.flowsCompleted.inc({ kind: record.kind, outcome: o });

  if (input.error !== undefined) {
    const err = webexRedirectError(input.error);
    outcome(err.code === 'webex_error' ? 'webex_error' : err.code);
    if (record.kind === 'device' && record.handoff) {
      return { kind: 'device', handoff: record.handoff, tokens: null, person: null, error: err };
    }
    throw err;
  }
  if (!input.code) {
    outcome('bad_callback');
    throw invalidRequest('Webex sent neither a sign-in code nor an error.', {
      hint: 'Start again from the home page.',
    });
  }

  const verifier = deps.sealer.open(record.verifier, flowKey(stateHash));
  let tokens: WebexTokens;
  try {
    tokens = await deps.webex.exchangeCode(input.code, verifier);
  } catch (err) {
    outcome('exchange_failed');
    throw err;
  }
  const requested = record.identity ? [...record.scopes, record.identity] : record.scopes;
  const granted: GrantedScopes = {
    scopes: tokens.scope ? tokens.scope.split(/\s+/).filter(Boolean) : requested,
    identity: record.identity ?? null,
    fromWebex: Boolean(tokens.scope),
  };
  // Webex sends no `scope`; scripts are told the granted scopes all the same (RFC 6749 §5.1).
  tokens = { ...tokens, scope: granted.scopes.join(' ') };

  let person: WebexPerson | null = null;
  if (canReadPeopleMe(granted.scopes)) {
    try {
      person = await deps.webex.me(tokens.access_token);
    } catch (err) {
      // Webex rate-limiting or down: a temporary answer the admin can retry, not a sign-in
      // with an unknown signer.
      if (
        err instanceof UpstreamError &&
        (err.reason === 'rate_limited' || err.reason === 'unavailable')
      ) {
        outcome('people_me_unavailable');
        throw err;
      }
      deps.logger.info(
        { event: 'people_me_failed', reason: (err as Error).message },
        "people/me failed; continuing without the signer's identity",
      );
    }
  } else {
    deps.logger.info(
      { event: 'identity_unknown', reason: 'no people-reading scope (IDENTITY_SCOPE=none)' },
      "the granted scopes cannot read people/me; continuing without the signer's identity",
    );
  }

  const refused = orgRefusal(deps, person);
  if (refused) {
    outcome('org_not_allowed');
    deps.logger.warn(
      { event: 'org_not_allowed', orgId: person?.orgId ?? null, kind: record.kind },
      'sign-in from an organization that is not allowed; tokens discarded',
    );
    if (record.kind === 'device' && record.handoff) {
      return {
        kind: 'device',
        handoff: record.handoff,
        tokens: null,
        person,
        granted,
        error: refused,
      };
    }
    throw refused;
  }

  outcome('success');
  if (record.kind === 'device' && record.handoff) {
    const { handoff, width } = record;
    return { kind: 'device', handoff, width, tokens, person, granted };
  }
  if (record.kind === 'console') return { kind: 'console', person, granted };
  deps.logger.info(
    {
      event: 'browser_tokens_issued',
      email: person?.emails?.[0] ?? null,
      orgId: person?.orgId ?? null,
      scopes: granted.scopes,
    },
    'tokens issued to the signed-in admin',
  );
  return { kind: 'browser', tokens, person, granted };
}

function orgRefusal(deps: FlowDeps, person: WebexPerson | null): HttpError | null {
  const allowed = deps.config.allowedOrgIds;
  if (allowed.length === 0) return null;
  // me() turns people/me's base64 org id into the UUID, the form ALLOWED_ORG_IDS is kept in.
  if (person?.orgId && allowed.includes(person.orgId.toLowerCase())) return null;
  return new HttpError(
    403,
    'org_not_allowed',
    person?.orgId
      ? 'You signed in with an account of a Webex organization this service does not serve. The tokens were discarded.'
      : 'This service only serves specific Webex organizations, and Webex did not tell us which organization you belong to (reading your profile failed). The tokens were discarded.',
    {
      title: 'Organization not allowed',
      hint: person?.orgId
        ? 'Sign in with an account of an allowed organization, or ask the operators to add yours to ALLOWED_ORG_IDS.'
        : 'Start again in a minute; if it keeps happening, the operators should check that spark:people_read is ticked on the integration.',
    },
  );
}
