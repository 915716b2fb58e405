/**
 * The signing keys of configured OIDC issuers: discovery document, then JWKS, cached, with a
 * refetch when a token names a key the cached set lacks (rotation), at most once per cooldown
 * so unknown `kid`s cannot make the service hammer the issuer. Only ever constructed for a
 * configured issuer, so an unconfigured issuer's URLs are never fetched.
 *
 * Fetching is ours rather than jose's createRemoteJWKSet: jose 5 fetches with node:https and
 * takes no fetch function, and calls to issuers must go through the service's HTTP egress.
 */
import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWTHeaderParameters,
  type KeyLike,
} from 'jose';
import { WorkloadIssuerUnavailableError } from '../errors';
import { isLoopbackHost, type WorkloadIssuer } from './issuers';

/** The subset of WHATWG fetch used here, so a proxying dispatcher can be injected. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface IssuerKeysOptions {
  fetch: FetchLike;
  /** Milliseconds since the epoch; injectable for tests. */
  now: () => number;
  timeoutMs: number;
  /** How long a fetched JWKS is used without asking again. */
  maxAgeMs: number;
  /** Least time between two fetches triggered by an unknown key. */
  cooldownMs: number;
}

export const DEFAULT_KEYS_OPTIONS = {
  timeoutMs: 5000,
  maxAgeMs: 10 * 60_000,
  cooldownMs: 30_000,
} as const;

/** Documents larger than this are not key sets; refuse rather than parse them. */
const MAX_DOCUMENT_BYTES = 256 * 1024;

type KeyLookup = ReturnType<typeof createLocalJWKSet>;

/** True when `err` is jose's "no key in the set matches this header". */
function isNoMatchingKey(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'ERR_JWKS_NO_MATCHING_KEY';
}

export class IssuerKeys {
  private jwksUri: string | undefined;
  private lookup: KeyLookup | undefined;
  private fetchedAt = -Infinity;
  /** Last fetch attempt, successful or not: the cooldown counts from here. */
  private attemptedAt = -Infinity;
  private inflight: Promise<void> | undefined;

  constructor(
    readonly issuer: WorkloadIssuer,
    private readonly options: IssuerKeysOptions,
  ) {}

  /**
   * The key for a token's protected header. Throws jose's JWKSNoMatchingKey when the issuer
   * does not publish it (after one refetch, cooldown permitting), or
   * WorkloadIssuerUnavailableError when no key set could be fetched at all.
   */
  async keyFor(header: JWTHeaderParameters): Promise<KeyLike> {
    const { now, maxAgeMs, cooldownMs } = this.options;
    const stale = now() - this.fetchedAt >= maxAgeMs && now() - this.attemptedAt >= cooldownMs;
    if (!this.lookup || stale) await this.refresh();
    try {
      return await this.current()(header);
    } catch (err) {
      if (!isNoMatchingKey(err) || now() - this.attemptedAt < cooldownMs) throw err;
      await this.refresh();
      return await this.current()(header);
    }
  }

  private current(): KeyLookup {
    if (!this.lookup) throw new WorkloadIssuerUnavailableError(this.issuer.name);
    return this.lookup;
  }

  /** One fetch at a time; a failed refresh keeps the previous key set when there is one. */
  private refresh(): Promise<void> {
    this.inflight ??= this.load()
      .catch((err: unknown) => {
        // Stale keys beat no keys: a rotation still fails closed (unknown kid), an outage does not.
        if (!this.lookup) throw new WorkloadIssuerUnavailableError(this.issuer.name, err);
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.attemptedAt = this.options.now();
    this.jwksUri ??= await this.discover();
    const jwks = await this.getJson(this.jwksUri);
    const keys = (jwks as { keys?: unknown }).keys;
    if (!Array.isArray(keys)) throw new Error('the JWKS has no "keys" array');
    this.lookup = createLocalJWKSet(jwks as JSONWebKeySet);
    this.fetchedAt = this.options.now();
  }

  private async discover(): Promise<string> {
    const base = this.issuer.issuer.replace(/\/+$/, '');
    const doc = (await this.getJson(`${base}/.well-known/openid-configuration`)) as Record<
      string,
      unknown
    >;
    // OIDC Discovery §4.3: the document must name exactly the issuer it was fetched for.
    if (doc.issuer !== this.issuer.issuer) {
      throw new Error('the discovery document names another issuer');
    }
    const uri = doc.jwks_uri;
    if (typeof uri !== 'string') throw new Error('the discovery document has no jwks_uri');
    const parsed = new URL(uri);
    const loopbackHttp = parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname);
    if (parsed.protocol !== 'https:' && !loopbackHttp) {
      throw new Error('the jwks_uri is not https');
    }
    return uri;
  }

  private async getJson(url: string): Promise<unknown> {
    const res = await this.options.fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
    const text = await res.text();
    if (text.length > MAX_DOCUMENT_BYTES) throw new Error(`${url} answered an oversized document`);
    const body: unknown = JSON.parse(text);
    if (typeof body !== 'object' || body === null) throw new Error(`${url} is not a JSON object`);
    return body;
  }
}
