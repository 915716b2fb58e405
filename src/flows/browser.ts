/**
 * The authorization-code flow with Webex, shared by the browser flow (tokens shown to the
 * admin) and the script handoff (tokens delivered to a polling script). No Koa in here.
 */
import { pkceChallenge, randomToken, safeEqual } from '../crypto';
import { HttpError } from '../errors';
import type { WebexPerson, WebexTokens } from '../webex/client';
import type { FlowDeps } from './context';

/** What the store keeps between /start and /oauth, under the keyed hash of `state`. */
interface FlowRecord {
  kind: 'browser' | 'device';
  scopes: string[];
  /** Keyed hash of the browser-binding cookie value. */
  binding: string;
  /** The PKCE verifier, sealed. */
  verifier: string;
  /** Device flow: hash of the device code being approved. */
  handoff?: string;
  createdAt: number;
}

export interface StartOptions {
  kind: 'browser' | 'device';
  scopes: string[];
  browserId: string;
  handoff?: string;
}

const flowKey = (stateHash: string) => `flow:${stateHash}`;
const spentKey = (stateHash: string) => `spent:${stateHash}`;

/** Create state + PKCE in the store and return where to send the browser. */
export async function startAuthorization(deps: FlowDeps, opts: StartOptions): Promise<string> {
  const state = randomToken(32);
  const verifier = randomToken(48);
  const stateHash = deps.sealer.hasher.digest('state', state);
  const record: FlowRecord = {
    kind: opts.kind,
    scopes: opts.scopes,
    binding: deps.sealer.hasher.digest('browser', opts.browserId),
    verifier: deps.sealer.seal(verifier, flowKey(stateHash)),
    ...(opts.handoff ? { handoff: opts.handoff } : {}),
    createdAt: deps.now(),
  };
  await deps.store.set(
    flowKey(stateHash),
    JSON.stringify(record),
    deps.config.flowTtlSeconds * 1000,
  );
  deps.metrics.flowsStarted.inc({ kind: opts.kind });
  return deps.webex.authorizeUrl({
    scopes: opts.scopes,
    state,
    codeChallenge: pkceChallenge(verifier),
  });
}

export type StateProblem = 'missing' | 'no_cookie' | 'mismatch' | 'replayed' | 'expired';

const STATE_TEXT: Record<StateProblem, { message: string; hint: string }> = {
  missing: {
    message: 'This page was opened without the sign-in details Webex normally sends back.',
    hint: 'Start again from the home page rather than opening this address directly.',
  },
  no_cookie: {
    message:
      'Your browser did not send back the cookie that ties this sign-in to it, so we cannot tell it was you who started it.',
    hint: 'Allow cookies for this site (they are only used during sign-in), then start again.',
  },
  mismatch: {
    message:
      'This sign-in was started in a different browser or profile than the one that finished it.',
    hint: 'Start again, and finish the sign-in in the same browser window.',
  },
  replayed: {
    message:
      'This sign-in link has already been used. Each sign-in completes once, so reloading or going back to it cannot work.',
    hint: 'If you need tokens again, start a new sign-in from the home page.',
  },
  expired: {
    message:
      'This sign-in took too long or was started in a tab that has been open for a while, so it expired.',
    hint: 'Start again from the home page and finish within a few minutes.',
  },
};

export class StateError extends HttpError {
  constructor(readonly problem: StateProblem) {
    super(400, `state_${problem}`, STATE_TEXT[problem].message, {
      title: 'This sign-in cannot be finished',
      hint: STATE_TEXT[problem].hint,
    });
  }
}

/** Explanations for errors Webex sends back on the redirect. Webex's own text is never shown. */
export function webexRedirectError(code: string): HttpError {
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
      'Your Webex account is not entitled to the requested scopes. This generally happens when a standard Webex user asks for admin (spark-admin) or compliance scopes.',
      {
        title: 'Not entitled to these scopes',
        hint: 'Sign in with a full administrator (or compliance officer) account of the organization, or pick fewer scopes.',
      },
    );
  }
  const safe = /^[a-z_]{1,40}$/.test(code) ? code : 'unknown';
  return new HttpError(
    502,
    'webex_error',
    `Webex did not complete the sign-in and returned the error code "${safe}".`,
    {
      title: 'Webex did not complete the sign-in',
      hint: 'Start again; if it keeps happening, the operators should check the integration on developer.webex.com.',
      expose: true,
    },
  );
}

export interface CallbackInput {
  state?: string;
  code?: string;
  error?: string;
  browserId?: string;
}

export type CallbackResult =
  | { kind: 'browser'; tokens: WebexTokens; person: WebexPerson | null; scopes: string[] }
  | {
      kind: 'device';
      handoff: string;
      tokens: WebexTokens | null;
      person: WebexPerson | null;
      error?: HttpError;
    };

/**
 * Verify the state against the store and the browser, then finish with Webex.
 * Throws StateError before any call to Webex when the state is not right.
 */
export async function completeAuthorization(
  deps: FlowDeps,
  input: CallbackInput,
): Promise<CallbackResult> {
  if (!input.state) throw new StateError('missing');
  const stateHash = deps.sealer.hasher.digest('state', input.state);
  const raw = await deps.store.take(flowKey(stateHash));
  if (raw === null) {
    const spent = await deps.store.get(spentKey(stateHash));
    throw new StateError(spent ? 'replayed' : 'expired');
  }
  await deps.store.set(spentKey(stateHash), '1', deps.config.flowTtlSeconds * 1000);
  const record = JSON.parse(raw) as FlowRecord;
  if (!input.browserId) throw new StateError('no_cookie');
  if (!safeEqual(deps.sealer.hasher.digest('browser', input.browserId), record.binding))
    throw new StateError('mismatch');

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
    throw new HttpError(400, 'invalid_request', 'Webex sent neither a sign-in code nor an error.', {
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
  const person = await deps.webex.me(tokens.access_token).catch((err: unknown) => {
    deps.logger.info(
      { event: 'people_me_failed', reason: (err as Error).message },
      "people/me failed; continuing without the signer's identity",
    );
    return null;
  });

  const refused = orgRefusal(deps, person);
  if (refused) {
    outcome('org_not_allowed');
    deps.logger.warn(
      { event: 'org_not_allowed', orgId: person?.orgId ?? null, kind: record.kind },
      'sign-in from an organization that is not allowed; tokens discarded',
    );
    if (record.kind === 'device' && record.handoff) {
      return { kind: 'device', handoff: record.handoff, tokens: null, person, error: refused };
    }
    throw refused;
  }

  outcome('success');
  if (record.kind === 'device' && record.handoff) {
    return { kind: 'device', handoff: record.handoff, tokens, person };
  }
  deps.logger.info(
    {
      event: 'browser_tokens_issued',
      email: person?.emails?.[0] ?? null,
      orgId: person?.orgId ?? null,
      scopes: record.scopes,
    },
    'tokens issued to the signed-in admin',
  );
  return {
    kind: 'browser',
    tokens,
    person,
    scopes: tokens.scope ? tokens.scope.split(/\s+/) : record.scopes,
  };
}

function orgRefusal(deps: FlowDeps, person: WebexPerson | null): HttpError | null {
  const allowed = deps.config.allowedOrgIds;
  if (allowed.length === 0) return null;
  if (person?.orgId && allowed.includes(person.orgId)) return null;
  return new HttpError(
    403,
    'org_not_allowed',
    person?.orgId
      ? 'You signed in with an account of a Webex organization this service does not serve. The tokens were discarded.'
      : 'This service only serves specific Webex organizations, and Webex did not tell us which organization you belong to (the granted scopes may not include reading your profile). The tokens were discarded.',
    {
      title: 'Organization not allowed',
      hint: person?.orgId
        ? 'Sign in with an account of an allowed organization, or ask the operators to add yours to ALLOWED_ORG_IDS.'
        : 'Include spark:people_read (or spark-admin:people_read) in the scopes and try again.',
    },
  );
}
