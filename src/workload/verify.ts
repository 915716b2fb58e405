/**
 * Verifies a CI job's OIDC ID token (the RFC 8693 `subject_token`) against the configured
 * issuers and returns the facts it proves. No Koa here: the device-authorization and
 * token-exchange flows call `verify` and turn its errors into answers.
 *
 * Order matters: the unverified header and `iss` only choose *which configured issuer* to ask
 * for keys (an unknown `iss` is refused before any network call); everything the caller relies
 * on comes from the verified payload.
 */
import crypto from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload, ProtectedHeaderParameters } from 'jose';
import { WorkloadIssuerUnavailableError, WorkloadTokenError } from '../errors';
import type { Store } from '../store/store';
import type { WorkloadIssuer, WorkloadPolicy } from './issuers';
import { DEFAULT_KEYS_OPTIONS, IssuerKeys, type FetchLike } from './keys';

export type { FetchLike } from './keys';

/** Clock difference tolerated between the issuer and this service, in seconds. */
const CLOCK_SKEW_SECONDS = 30;

/** Claims shown to the approving admin when the token carries them (DESIGN.md's list). */
export const WORKLOAD_FACT_CLAIMS = [
  'repository',
  'ref',
  'workflow',
  'actor',
  'run_id',
  'project_path',
  'pipeline_id',
] as const;
export type WorkloadFactClaim = (typeof WORKLOAD_FACT_CLAIMS)[number];

/** What a verified ID token proves. Everything here was signed by the issuer. */
export interface VerifiedWorkload {
  /** The configured issuer's name, e.g. `github`. */
  issuerName: string;
  /** The `iss` claim (equal to the configured issuer URL). */
  issuer: string;
  /** The configured audience the token carried. */
  audience: string;
  sub: string;
  /** The token's id; single use is keyed on an HMAC of issuer + jti, never the jti itself. */
  jti: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  /** Whichever of WORKLOAD_FACT_CLAIMS the token carries, as strings. */
  facts: Partial<Record<WorkloadFactClaim, string>>;
}

export interface WorkloadVerifierDeps {
  policy: WorkloadPolicy;
  /** Holds the single-use records of accepted `jti`s. */
  store: Store;
  /**
   * A keyed digest (HMAC with a server key) for store keys, so a `jti` never sits in the store
   * in clear; see `hmacDigest`.
   */
  digest: (value: string) => string;
  /** The service's HTTP egress (a proxying fetch, when there is one). Default: global fetch. */
  fetch?: FetchLike;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Per-request timeout for discovery and JWKS fetches. */
  timeoutMs?: number;
  /** JWKS cache lifetime and the least time between refetches for an unknown `kid`. */
  jwksMaxAgeMs?: number;
  jwksCooldownMs?: number;
}

export interface WorkloadVerifier {
  /** False when WORKLOAD_ISSUERS is empty: callers should refuse `subject_token` outright. */
  readonly enabled: boolean;
  /** The configured issuers, for metadata and pages. */
  readonly issuers: readonly WorkloadIssuer[];
  /**
   * Verify `token` and (unless `consume: false`) record its `jti` as used. Rejects with
   * WorkloadTokenError (`invalid_grant`, a log-safe `reason`) or
   * WorkloadIssuerUnavailableError (503).
   *
   * `consume: false` lets the exchange look for a matching grant first and burn the token only
   * when it is about to answer with one (`consume(verified)`), so a job whose token matches no
   * grant can still use that token to ask for approval (`login --oidc`).
   */
  verify(token: string, options?: { consume?: boolean }): Promise<VerifiedWorkload>;
  /** Record a verified token as used; rejects with WorkloadTokenError `replayed` if it was. */
  consume(verified: VerifiedWorkload): Promise<void>;
}

/** HMAC-SHA256 in base64url under `key`: the `digest` most callers want. */
export function hmacDigest(key: Buffer): (value: string) => string {
  return (value) => crypto.createHmac('sha256', key).update(value, 'utf8').digest('base64url');
}

/** Store key of a used ID token; the digest binds issuer and jti so issuers cannot collide. */
function jtiStoreKey(digest: (value: string) => string, iss: string, jti: string): string {
  return `workload:jti:${digest(`${iss}\n${jti}`)}`;
}

/** Longest accepted token, in characters; real CI ID tokens are about 1-2 KB. */
const MAX_TOKEN_LENGTH = 16_384;
const MAX_FACT_LENGTH = 256;

function refuse(
  reason: WorkloadTokenError['reason'],
  message: string,
  hint: string,
  issuerName?: string,
): WorkloadTokenError {
  return new WorkloadTokenError(reason, message, hint, issuerName);
}

const FRESH_HINT =
  'Request a fresh ID token from the CI system (run the step again) and present it at once.';

export function createWorkloadVerifier(deps: WorkloadVerifierDeps): WorkloadVerifier {
  const now = deps.now ?? Date.now;
  const fetchFn: FetchLike = deps.fetch ?? ((url, init) => fetch(url, init));
  const { policy } = deps;
  const keysByIssuer = new Map<string, IssuerKeys>();
  for (const issuer of policy.issuers) {
    keysByIssuer.set(
      issuer.issuer,
      new IssuerKeys(issuer, {
        fetch: fetchFn,
        now,
        timeoutMs: deps.timeoutMs ?? DEFAULT_KEYS_OPTIONS.timeoutMs,
        maxAgeMs: deps.jwksMaxAgeMs ?? DEFAULT_KEYS_OPTIONS.maxAgeMs,
        cooldownMs: deps.jwksCooldownMs ?? DEFAULT_KEYS_OPTIONS.cooldownMs,
      }),
    );
  }

  async function verify(
    token: string,
    options: { consume?: boolean } = {},
  ): Promise<VerifiedWorkload> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw refuse('malformed', 'The subject_token is missing or too long.', FRESH_HINT);
    }
    let header: ProtectedHeaderParameters;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw refuse('malformed', 'The subject_token is not a signed JWT.', FRESH_HINT);
    }

    const alg = typeof header.alg === 'string' ? header.alg : '';
    if (!policy.algorithms.includes(alg)) {
      throw refuse(
        'alg_not_allowed',
        `The ID token is signed with an algorithm this service does not accept (${safeText(alg, 16) || 'none'}).`,
        `Accepted: ${policy.algorithms.join(', ')}. Tokens from GitHub Actions and GitLab CI qualify as issued.`,
      );
    }

    const issuer = policy.issuers.find((i) => i.issuer === unverified.iss);
    const keys = issuer && keysByIssuer.get(issuer.issuer);
    if (!issuer || !keys) {
      throw refuse(
        'unknown_issuer',
        'The ID token comes from an issuer this service does not trust.',
        'Ask the operators to add the CI system to WORKLOAD_ISSUERS, or use a job of a trusted one.',
      );
    }

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (h) => keys.keyFor(h), {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: policy.algorithms,
        clockTolerance: CLOCK_SKEW_SECONDS,
        maxTokenAge: policy.maxTokenAgeSeconds,
        currentDate: new Date(now()),
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      }));
    } catch (err) {
      throw translate(err, issuer, policy.maxTokenAgeSeconds);
    }

    const sub = payload.sub;
    const jti = payload.jti;
    if (
      typeof sub !== 'string' ||
      sub === '' ||
      sub.length > 512 ||
      typeof jti !== 'string' ||
      jti === '' ||
      jti.length > 512
    ) {
      throw refuse(
        'missing_claim',
        'The ID token lacks a usable "sub" or "jti" claim.',
        'Use an ID token issued by the CI system for a job; custom issuers must set both claims.',
        issuer.name,
      );
    }
    const facts: VerifiedWorkload['facts'] = {};
    for (const claim of WORKLOAD_FACT_CLAIMS) {
      const value = payload[claim];
      if (typeof value === 'string' || typeof value === 'number') {
        facts[claim] = safeText(String(value), MAX_FACT_LENGTH);
      }
    }
    const verified: VerifiedWorkload = {
      issuerName: issuer.name,
      issuer: issuer.issuer,
      audience: issuer.audience,
      sub,
      jti,
      issuedAt: payload.iat as number,
      expiresAt: payload.exp as number,
      facts,
    };
    if (options.consume !== false) await consume(verified);
    return verified;
  }

  async function consume(verified: VerifiedWorkload): Promise<void> {
    // Refused after maxTokenAge anyway, so the record never needs to outlive that bound.
    const validUntil = Math.min(verified.expiresAt, verified.issuedAt + policy.maxTokenAgeSeconds);
    const ttlMs = Math.max(1000, (validUntil + CLOCK_SKEW_SECONDS) * 1000 - now());
    const key = jtiStoreKey(deps.digest, verified.issuer, verified.jti);
    if (!(await deps.store.setIfAbsent(key, '1', ttlMs))) {
      throw refuse(
        'replayed',
        'This ID token was already used; each one is accepted once.',
        FRESH_HINT,
        verified.issuerName,
      );
    }
  }

  return { enabled: policy.issuers.length > 0, issuers: policy.issuers, verify, consume };
}

/** Control characters out, length bounded: claim values end up in pages and log lines. */
function safeText(value: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, max);
}

function translate(err: unknown, issuer: WorkloadIssuer, maxAge: number): Error {
  if (err instanceof WorkloadIssuerUnavailableError || err instanceof WorkloadTokenError) {
    return err;
  }
  const name = issuer.name;
  if (err instanceof joseErrors.JWTExpired) {
    if (err.claim === 'iat') {
      return refuse(
        'too_old',
        `The ID token was issued more than ${maxAge} seconds ago.`,
        `${FRESH_HINT} (The limit is WORKLOAD_MAX_TOKEN_AGE_SECONDS.)`,
        name,
      );
    }
    return refuse('expired', 'The ID token has expired.', FRESH_HINT, name);
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') {
      return refuse(
        'missing_claim',
        `The ID token lacks the "${safeText(err.claim, 16)}" claim.`,
        'Use an ID token issued by the CI system for a job; custom issuers must set exp, iat, sub and jti.',
        name,
      );
    }
    switch (err.claim) {
      case 'aud':
        return refuse(
          'wrong_audience',
          `The ID token was issued for another audience; this service accepts "${issuer.audience}" from ${name}.`,
          `Request the ID token with audience ${issuer.audience}.`,
          name,
        );
      case 'iss':
        return refuse('wrong_issuer', 'The ID token names another issuer.', FRESH_HINT, name);
      case 'nbf':
        return refuse(
          'not_yet_valid',
          'The ID token is not valid yet (its "nbf" is in the future).',
          'Check the clocks of the CI runner and the issuer, then run the step again.',
          name,
        );
      case 'iat':
        return refuse(
          'not_yet_valid',
          'The ID token claims to be issued in the future.',
          'Check the clocks of the CI runner and the issuer, then run the step again.',
          name,
        );
      default:
        return refuse(
          'missing_claim',
          `The ID token lacks a valid "${safeText(err.claim, 16)}" claim.`,
          'Use an ID token issued by the CI system for a job.',
          name,
        );
    }
  }
  if (
    err instanceof joseErrors.JWKSNoMatchingKey ||
    err instanceof joseErrors.JWKSMultipleMatchingKeys
  ) {
    return refuse(
      'unknown_key',
      `The ID token is signed with a key that ${name} does not publish.`,
      FRESH_HINT,
      name,
    );
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return refuse(
      'alg_not_allowed',
      'The ID token is signed with an algorithm this service does not accept.',
      FRESH_HINT,
      name,
    );
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return refuse('bad_signature', 'The ID token signature does not verify.', FRESH_HINT, name);
  }
  if (err instanceof joseErrors.JOSEError) {
    return refuse('malformed', 'The ID token could not be verified.', FRESH_HINT, name);
  }
  return err instanceof Error ? err : new Error(String(err));
}
