/**
 * RFC 8693 token exchange for CI jobs (DESIGN.md, "Workload identity"): a job presents a fresh
 * OIDC ID token; when a grant is bound to that job, for the client asking, the answer is the
 * grant's Webex access token (renewed at Webex when half its lifetime is used up, as on
 * refresh), with no refresh token.
 *
 * The ID token is verified without being used up, and is consumed only when a grant answers:
 * a job that matches no grant can still use the same token to ask for approval
 * (`webex-token login --oidc`). No refusal here ever revokes a grant; Webex refusing the
 * grant's own refresh token ends it, as on refresh.
 *
 * Only managed grants (REFRESH_TOKENS=managed, the default) can be exchanged for: a grant made
 * with REFRESH_TOKENS=webex gave Webex's tokens to its script and keeps none here.
 */
import type { DeviceClientConfig } from '../../config';
import { WorkloadTokenError, invalidGrant, invalidRequest, invalidScope } from '../../errors';
import { type BindingWidth, matchesBinding, parseSubject } from '../../workload/binding';
import type { VerifiedWorkload } from '../../workload/verify';
import type { FlowDeps } from '../context';
import { addressId, type RateLimitRule } from '../rate-limit';
import { type GrantRecord, grantExpiry, orgAllowed } from './model';
import { ORG_NOT_ALLOWED, Refusal, needsRenewal, newer, renewAtWebex } from './renewal';
import { GrantRepository } from './repository';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface ExchangeInput {
  client: DeviceClientConfig;
  subjectToken: string | undefined;
  subjectTokenType: string | undefined;
  /** Space-separated; at most what the grant holds. */
  scope: string | undefined;
  address: string;
}

/** RFC 8693 §2.2.1, with the grant it came from. */
export interface ExchangeAnswer {
  grantId: string;
  tokens: {
    access_token: string;
    issued_token_type: typeof ACCESS_TOKEN_TYPE;
    token_type: string;
    expires_in: number;
    scope: string;
  };
}

/** Failed exchanges per address; never below 30 a minute (DESIGN.md), whatever the window. */
export const exchangeFailureRule = (deps: FlowDeps): RateLimitRule => {
  const { windowSeconds, exchangeFailures } = deps.config.rateLimit;
  return {
    name: 'exchange_failures',
    limit: Math.max(exchangeFailures, Math.ceil((30 * windowSeconds) / 60)),
    windowSeconds,
    what: 'failed token exchanges',
  };
};

export async function exchangeToken(deps: FlowDeps, input: ExchangeInput): Promise<ExchangeAnswer> {
  const rule = exchangeFailureRule(deps);
  const source = addressId(input.address);
  if (await deps.limiter.exhausted(rule, source)) deps.limiter.reject(rule);
  let verified: VerifiedWorkload | null = null;
  try {
    const token = checkParameters(input);
    verified = await verifySubject(deps, token);
    return await answer(deps, input, verified);
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    deps.metrics.workloadExchanges.inc({ outcome: err.outcome });
    // Webex being busy is nobody's failed attempt.
    if (err.outcome !== 'unavailable') await deps.limiter.fail(rule, source);
    deps.logger.info(
      {
        event: 'workload_exchange_failed',
        reason: err.outcome,
        grant: err.grantId,
        client: input.client.id,
        address: input.address,
        ...(verified ? { job: describeJob(verified) } : {}),
      },
      'token exchange refused',
    );
    throw err.error;
  }
}

function checkParameters(input: ExchangeInput): string {
  if (!input.subjectToken) {
    throw new Refusal(
      'malformed',
      invalidRequest("subject_token (the job's ID token) is required."),
    );
  }
  if (input.subjectTokenType !== JWT_TOKEN_TYPE) {
    throw new Refusal(
      'malformed',
      invalidRequest(`subject_token_type must be ${JWT_TOKEN_TYPE} (an OIDC ID token).`),
    );
  }
  return input.subjectToken;
}

async function verifySubject(deps: FlowDeps, token: string): Promise<VerifiedWorkload> {
  if (!deps.workload.enabled) {
    throw new Refusal(
      'not_configured',
      invalidGrant(
        'This service trusts no CI issuers (WORKLOAD_ISSUERS is empty), so it cannot exchange ID tokens. Ask the operators, or use "webex-token login" (the device flow).',
      ),
    );
  }
  try {
    return await deps.workload.verify(token, { consume: false });
  } catch (err) {
    if (err instanceof WorkloadTokenError) {
      throw new Refusal(err.reason, withHint(err));
    }
    throw err;
  }
}

/** Under /oauth2/ only the message reaches scripts: the hint goes with it. */
function withHint(err: WorkloadTokenError) {
  return invalidGrant(err.hint ? `${err.message} ${err.hint}` : err.message);
}

/** The narrowest binding first: an exact `sub` before a branch wildcard before a repository. */
const WIDTH_ORDER: Record<BindingWidth, number> = { subject: 0, any_branch: 1, repository: 2 };

async function answer(
  deps: FlowDeps,
  input: ExchangeInput,
  verified: VerifiedWorkload,
): Promise<ExchangeAnswer> {
  const requested = input.scope?.split(/\s+/).filter(Boolean) ?? [];
  const repo = new GrantRepository(deps);
  const bound = (await repo.loadMany(await repo.idsForWorkload(verified))).filter(
    (g) =>
      g.state === 'active' &&
      g.requester.workload !== null &&
      matchesBinding(g.requester.workload, verified),
  );
  const job = describeJob(verified);
  if (bound.length === 0) {
    throw new Refusal(
      'no_binding',
      invalidGrant(
        `No grant is bound to this job (${jobText(job)}): run "webex-token login --oidc ${verified.issuerName}" for an admin's approval, then exchange again.`,
      ),
    );
  }
  const mine = bound.filter((g) => g.clientId === input.client.id);
  if (mine.length === 0) {
    throw new Refusal(
      'client_mismatch',
      invalidGrant(
        `The grant bound to this job (${jobText(job)}) was issued to another client than "${input.client.id}": exchange with the client that asked for it.`,
      ),
      bound[0]!.id,
    );
  }
  const allowed = mine.filter((g) => orgAllowed(deps.config, g.approver.orgId));
  if (allowed.length === 0) throw new Refusal('org_not_allowed', invalidGrant(ORG_NOT_ALLOWED));
  const covering = allowed.filter((g) => requested.every((s) => g.scopes.includes(s)));
  if (covering.length === 0) {
    const held = [...new Set(allowed.flatMap((g) => g.scopes))].join(' ');
    throw new Refusal(
      'scope_beyond_grant',
      invalidScope(
        `The grant bound to this job holds ${held}; ask for at most those scopes, or have an admin approve a new request for more ("webex-token login --oidc ${verified.issuerName} --scope ...").`,
      ),
      allowed[0]!.id,
    );
  }
  const grant = covering.sort(
    (a, b) =>
      WIDTH_ORDER[a.requester.workload!.width] - WIDTH_ORDER[b.requester.workload!.width] ||
      a.scopes.length - b.scopes.length ||
      b.createdAt - a.createdAt,
  )[0]!;
  if (grant.mode !== 'managed' || !grant.webex) {
    throw new Refusal(
      'not_managed',
      invalidGrant(
        'The grant bound to this job was made with REFRESH_TOKENS=webex: its script received Webex\'s refresh token and this service keeps no access token to hand out. Use that refresh token, or ask the operators for REFRESH_TOKENS=managed and run "webex-token login --oidc" again.',
      ),
      grant.id,
    );
  }
  try {
    await deps.workload.consume(verified);
  } catch (err) {
    if (err instanceof WorkloadTokenError) throw new Refusal(err.reason, withHint(err), grant.id);
    throw err;
  }
  const used = await use(deps, repo, grant, input.address);
  const webex = used.record.webex!;
  const at = used.record.lastUsedAt!;
  deps.metrics.workloadExchanges.inc({ outcome: used.renewed ? 'webex_renewed' : 'ok' });
  deps.logger.info(
    {
      event: 'workload_exchanged',
      grant: grant.id,
      client: grant.clientId,
      address: input.address,
      job,
      binding: grant.requester.workload!.width,
      webexCalled: used.renewed,
    },
    "token exchange: the job got its grant's Webex access token",
  );
  return {
    grantId: grant.id,
    tokens: {
      access_token: webex.accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: webex.tokenType,
      expires_in: Math.max(0, Math.floor((webex.accessTokenExpiresAt - at) / 1000)),
      // The scopes the token carries: Webex cannot narrow a token, so `scope` chooses among
      // the job's grants and the answer says what the chosen one holds (RFC 8693 §2.2.1).
      scope: grant.scopes.join(' '),
    },
  };
}

/**
 * Record the use (which keeps the grant alive, as a refresh does) and renew Webex's access
 * token when due; under the grant's update lock, over what is stored then.
 */
async function use(
  deps: FlowDeps,
  repo: GrantRepository,
  grant: GrantRecord,
  address: string,
): Promise<{ record: GrantRecord; renewed: boolean }> {
  const renewed = needsRenewal(grant.webex!, deps.now())
    ? await renewAtWebex(deps, grant, grant.webex!)
    : null;
  const at = deps.now();
  const record = await repo.update(grant.id, (current) => {
    if (current.state !== 'active' || !current.webex) return null;
    const webex = renewed ? newer(renewed.webex, current.webex) : current.webex;
    const webexRefreshExpiresAt =
      renewed && webex === renewed.webex
        ? renewed.webexRefreshExpiresAt
        : current.webexRefreshExpiresAt;
    return {
      ...current,
      lastUsedAt: at,
      lastUsedFrom: address,
      useCount: current.useCount + 1,
      webex,
      webexRefreshExpiresAt,
      expiresAt: grantExpiry(deps.config, webexRefreshExpiresAt, at),
    };
  });
  if (!record || record.state !== 'active') {
    throw new Refusal(
      'revoked',
      invalidGrant(
        `The grant bound to this job was revoked just now: run "webex-token login --oidc" for a new approval.`,
      ),
      grant.id,
    );
  }
  await repo.index(record);
  if (record.tokenDigest) {
    // The script's refresh token lives as long as the grant its exchanges keep alive. Should a
    // rotation have replaced it meanwhile, the old one comes back only as reuse (presentedAgain).
    const pointer = {
      grantId: record.id,
      generation: record.generation,
      clientId: record.clientId,
    };
    await repo.writePointer(record.tokenDigest, pointer, repo.lifetime(record));
  }
  return { record, renewed: renewed !== null };
}

/** The job as audit lines and messages name it: verified claims only, never the token. */
export interface JobDescription {
  issuer: string;
  sub: string;
  repository: string | null;
  ref: string | null;
  workflow: string | null;
  actor: string | null;
  run: string | null;
}

function describeJob(verified: VerifiedWorkload): JobDescription {
  const f = verified.facts;
  return {
    issuer: verified.issuerName,
    sub: verified.sub,
    repository: f.repository ?? f.project_path ?? parseSubject(verified.sub)?.repository ?? null,
    ref: f.ref ?? null,
    workflow: f.workflow ?? null,
    actor: f.actor ?? null,
    run: f.run_id ?? f.pipeline_id ?? null,
  };
}

function jobText(job: JobDescription): string {
  if (!job.repository) return `${job.issuer} subject ${job.sub}`;
  return `${job.issuer} repository ${job.repository}${job.ref ? `, ref ${job.ref}` : ''}`;
}
