/**
 * The trusted OIDC issuers of CI jobs (`WORKLOAD_ISSUERS`) and the verification policy around
 * them. Pure: parses and validates the configured value; src/config/ turns problems into one-line
 * ConfigErrors naming the variable.
 */

/** One issuer whose ID tokens the service trusts. */
export interface WorkloadIssuer {
  /** Short name shown on pages and in audit lines, e.g. `github`. */
  name: string;
  /** Exactly the `iss` claim of its tokens; also the base of its discovery document. */
  issuer: string;
  /** The `aud` its tokens must carry for this service. */
  audience: string;
}

export interface WorkloadPolicy {
  issuers: WorkloadIssuer[];
  /** JWS algorithms accepted; always asymmetric, never `none` or HS*. */
  algorithms: string[];
  /** Oldest `iat` accepted, in seconds before now. */
  maxTokenAgeSeconds: number;
}

const WORKLOAD_PRESETS: Readonly<Record<string, string>> = {
  github: 'https://token.actions.githubusercontent.com',
  gitlab: 'https://gitlab.com',
};

/**
 * Asymmetric algorithms only: with HS* the verification key would be a shared secret, and an
 * attacker could sign with the issuer's *public* key as the HMAC secret (algorithm confusion).
 */
const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/** GitHub and GitLab both sign with RS256; ES256 covers the usual custom issuer. */
export const DEFAULT_WORKLOAD_ALGORITHMS = 'RS256 ES256';

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

class WorkloadConfigError extends Error {
  override name = 'WorkloadConfigError';
}

/** True for hosts that never leave the machine: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return /^127(\.\d{1,3}){3}$/.test(host);
}

/** An issuer URL: https, or http on loopback (tests); no query, fragment or credentials. */
function checkIssuerUrl(value: string, what: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WorkloadConfigError(`${what}: "${value}" is not an absolute URL`);
  }
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) {
      throw new WorkloadConfigError(
        `${what}: "${value}" uses http://, which is accepted only on a loopback address (127.0.0.1, ::1, localhost); use the issuer's https:// URL`,
      );
    }
  } else if (url.protocol !== 'https:') {
    throw new WorkloadConfigError(`${what}: "${value}" must be an https:// URL`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new WorkloadConfigError(
      `${what}: "${value}" must not carry a query, a fragment or credentials`,
    );
  }
}

/**
 * Parse `WORKLOAD_ISSUERS`: empty (the feature is off), a JSON array whose items are preset
 * names or `{name, issuer?, audience?}` objects, or preset names separated by commas or spaces.
 * A missing audience defaults to `defaultAudience` (the service's PUBLIC_URL); a missing issuer
 * is allowed only for a preset name.
 */
export function parseWorkloadIssuers(raw: unknown, defaultAudience: string): WorkloadIssuer[] {
  if (raw === '' || raw === undefined || raw === null) return [];
  let list: unknown = raw;
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (text === '') return [];
    if (text.startsWith('[') || text.startsWith('{')) {
      try {
        list = JSON.parse(text);
      } catch {
        throw new WorkloadConfigError(
          'is not valid JSON; expected e.g. ["github"] or [{"name":"ci","issuer":"https://ci.example.com","audience":"https://tokens.example.com"}]',
        );
      }
    } else {
      list = text.split(/[\s,]+/).filter(Boolean);
    }
  }
  if (!Array.isArray(list)) {
    throw new WorkloadConfigError(
      'must be a JSON array of preset names ("github", "gitlab") or {"name","issuer","audience"} objects',
    );
  }
  const out: WorkloadIssuer[] = [];
  for (const item of list) {
    const entry: Record<string, unknown> =
      typeof item === 'string'
        ? { name: item }
        : typeof item === 'object' && item !== null && !Array.isArray(item)
          ? (item as Record<string, unknown>)
          : {};
    const name = entry.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new WorkloadConfigError(
        `each entry needs a "name" of 1-32 lowercase letters, digits, "_" or "-" (or is a preset: ${Object.keys(WORKLOAD_PRESETS).join(', ')})`,
      );
    }
    for (const key of Object.keys(entry)) {
      if (!['name', 'issuer', 'audience'].includes(key)) {
        throw new WorkloadConfigError(`entry "${name}": unknown field "${key}"`);
      }
    }
    const issuer = entry.issuer ?? WORKLOAD_PRESETS[name];
    if (issuer === undefined) {
      throw new WorkloadConfigError(
        `entry "${name}" is not a preset (${Object.keys(WORKLOAD_PRESETS).join(', ')}), so it needs an "issuer" URL`,
      );
    }
    if (typeof issuer !== 'string') {
      throw new WorkloadConfigError(`entry "${name}": "issuer" must be a URL string`);
    }
    checkIssuerUrl(issuer, `entry "${name}"`);
    const audience = entry.audience ?? defaultAudience;
    if (typeof audience !== 'string' || audience === '' || audience.length > 512) {
      throw new WorkloadConfigError(
        `entry "${name}": "audience" must be a non-empty string (default: PUBLIC_URL)`,
      );
    }
    if (out.some((o) => o.name === name)) {
      throw new WorkloadConfigError(`the name "${name}" is listed twice`);
    }
    if (out.some((o) => o.issuer === issuer)) {
      throw new WorkloadConfigError(
        `the issuer ${issuer} is listed twice; one entry per issuer, so a token's "iss" picks exactly one`,
      );
    }
    out.push({ name, issuer, audience });
  }
  return out;
}

/** Parse the algorithm allowlist: space- or comma-separated, asymmetric algorithms only. */
export function parseWorkloadAlgorithms(raw: string): string[] {
  const algs = raw.split(/[\s,]+/).filter(Boolean);
  if (algs.length === 0) {
    throw new WorkloadConfigError(`must list at least one of ${ASYMMETRIC_ALGORITHMS.join(' ')}`);
  }
  for (const alg of algs) {
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new WorkloadConfigError(
        `"${alg}" is not accepted; only asymmetric algorithms (${ASYMMETRIC_ALGORITHMS.join(' ')}): "none" and HS* would let anyone who knows the issuer's public key forge tokens`,
      );
    }
  }
  return [...new Set(algs)];
}
