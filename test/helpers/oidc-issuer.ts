/**
 * A local OIDC issuer for the workload-identity tests: key pairs generated at start, discovery
 * and JWKS served on a loopback port, tokens shaped like GitHub Actions' and GitLab CI's with
 * every claim and header overridable. It counts what it serves, can rotate its key, and can
 * pretend to be down.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';

export interface IssuerKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyLike;
  publicKey: KeyLike;
  publicJwk: JWK;
  /** SPKI PEM of the public key (the "secret" of an algorithm-confusion attack). */
  publicPem: string;
}

export interface MintOptions {
  /** Claims merged over the defaults; a value of `undefined` removes the claim. */
  claims?: Record<string, unknown>;
  /** Header parameters merged over `{alg, kid, typ: 'JWT'}`. */
  header?: Record<string, unknown>;
  /** Sign with this key instead of the current published one (e.g. an unpublished key). */
  key?: IssuerKey;
}

export interface TestIssuerOptions {
  /** Seconds since the epoch for `iat`/`nbf`/`exp` defaults. */
  now?: () => number;
  /** The audience minted tokens carry by default. */
  audience?: string;
  alg?: 'RS256' | 'ES256';
}

export interface TestIssuer {
  /** The issuer URL, `http://127.0.0.1:PORT` (the `iss` of its tokens). */
  readonly url: string;
  readonly audience: string;
  /** The key new tokens are signed with. */
  readonly current: IssuerKey;
  /** Requests served, per path. */
  readonly hits: { discovery: number; jwks: number; other: number };
  /** While set, every request answers this status. */
  failWith: number | undefined;
  /** Fields merged over the discovery document (e.g. another `issuer`). */
  discovery: Record<string, unknown>;
  mint(options?: MintOptions): Promise<string>;
  /** GitHub Actions' claim set for `repo:OWNER/REPO:ref:refs/heads/BRANCH`. */
  mintGithub(
    options?: MintOptions & { repository?: string; branch?: string; subject?: string },
  ): Promise<string>;
  /** GitLab CI's claim set for `project_path:P:ref_type:branch:ref:BRANCH`. */
  mintGitlab(options?: MintOptions & { project?: string; branch?: string }): Promise<string>;
  /** `header.payload.` with no signature (`alg: none` style). */
  unsigned(header: Record<string, unknown>, claims?: Record<string, unknown>): string;
  /** A fresh key pair that the issuer does not publish. */
  newKey(): Promise<IssuerKey>;
  /** Publish a new key and sign with it; the old one is dropped unless `keepOld`. */
  rotate(options?: { keepOld?: boolean }): Promise<IssuerKey>;
  close(): Promise<void>;
}

async function makeKey(alg: 'RS256' | 'ES256'): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = crypto.randomBytes(8).toString('hex');
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export async function startTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const alg = options.alg ?? 'RS256';
  let published: IssuerKey[] = [await makeKey(alg)];
  const hits = { discovery: 0, jwks: 0, other: 0 };
  let url = '';

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/.well-known/openid-configuration') hits.discovery += 1;
    else if (path === '/.well-known/jwks') hits.jwks += 1;
    else hits.other += 1;
    if (issuer.failWith !== undefined) {
      res.writeHead(issuer.failWith).end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    if (path === '/.well-known/openid-configuration') {
      res.end(
        JSON.stringify({
          issuer: url,
          jwks_uri: `${url}/.well-known/jwks`,
          subject_types_supported: ['public'],
          response_types_supported: ['id_token'],
          id_token_signing_alg_values_supported: [alg],
          ...issuer.discovery,
        }),
      );
    } else if (path === '/.well-known/jwks') {
      res.end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
    } else {
      res.writeHead(404).end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const audience = options.audience ?? 'https://tokens.example.test';

  function baseClaims(): Record<string, unknown> {
    const t = now();
    return {
      iss: url,
      aud: audience,
      iat: t,
      nbf: t,
      exp: t + 300,
      jti: crypto.randomUUID(),
    };
  }

  async function sign(claims: Record<string, unknown>, opts: MintOptions): Promise<string> {
    const key = opts.key ?? issuer.current;
    const payload: Record<string, unknown> = {};
    for (const [k, v] of Object.entries({ ...claims, ...(opts.claims ?? {}) })) {
      if (v !== undefined) payload[k] = v;
    }
    const header = { alg: key.alg, kid: key.kid, typ: 'JWT', ...(opts.header ?? {}) };
    return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
  }

  const issuer: TestIssuer = {
    get url() {
      return url;
    },
    audience,
    get current() {
      return published[published.length - 1] as IssuerKey;
    },
    hits,
    failWith: undefined,
    discovery: {},
    mint: (opts = {}) => sign({ ...baseClaims(), sub: 'custom-subject' }, opts),
    mintGithub: (opts = {}) => {
      const repository = opts.repository ?? 'octo-org/octo-repo';
      const branch = opts.branch ?? 'main';
      const ref = `refs/heads/${branch}`;
      return sign(
        {
          ...baseClaims(),
          sub: opts.subject ?? `repo:${repository}:ref:${ref}`,
          ref,
          ref_type: 'branch',
          repository,
          repository_owner: repository.split('/')[0],
          repository_id: '123456',
          workflow: 'deploy',
          actor: 'octocat',
          run_id: '987654321',
          run_number: '42',
          run_attempt: '1',
          event_name: 'push',
          job_workflow_ref: `${repository}/.github/workflows/deploy.yml@${ref}`,
          runner_environment: 'github-hosted',
        },
        opts,
      );
    },
    mintGitlab: (opts = {}) => {
      const project = opts.project ?? 'my-group/my-project';
      const branch = opts.branch ?? 'main';
      return sign(
        {
          ...baseClaims(),
          sub: `project_path:${project}:ref_type:branch:ref:${branch}`,
          namespace_id: '72',
          namespace_path: project.split('/')[0],
          project_id: '20',
          project_path: project,
          user_id: '5',
          user_login: 'alice',
          pipeline_id: '1212',
          pipeline_source: 'push',
          job_id: '3434',
          ref: branch,
          ref_type: 'branch',
          ref_protected: 'true',
        },
        opts,
      );
    },
    unsigned: (header, claims = {}) =>
      `${b64(header)}.${b64({ ...baseClaims(), sub: 'custom-subject', ...claims })}.`,
    newKey: () => makeKey(alg),
    rotate: async (opts = {}) => {
      const key = await makeKey(alg);
      published = opts.keepOld ? [...published, key] : [key];
      return key;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return issuer;
}
