/**
 * Getting the CI job's OIDC ID token for `webex-token login|token --oidc github|gitlab`.
 * GitHub Actions hands one out on request (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN, for the
 * audience asked); GitLab CI puts one in a variable the job declares under `id_tokens:`.
 * No printing here: the token goes back to the caller, failures are CliErrors.
 */
import { CliError, EXIT, UsageError } from './errors';

export const OIDC_PROVIDERS = ['github', 'gitlab'] as const;
export type OidcProvider = (typeof OIDC_PROVIDERS)[number];

/** The GitLab `id_tokens:` variable read when none is named. */
export const DEFAULT_ID_TOKEN_VARIABLE = 'WEBEX_TOKEN_ID_TOKEN';

export const OIDC_ENV = {
  /** Audience to request (GitHub) or expect (GitLab); default: the server URL. */
  audience: 'WEBEX_TOKEN_AUDIENCE',
  /** Name of the GitLab variable holding the ID token. */
  idTokenVariable: 'WEBEX_TOKEN_ID_TOKEN_VARIABLE',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

export interface IdTokenRequest {
  provider: OidcProvider;
  /** The audience the service expects (by default its PUBLIC_URL, i.e. the server URL). */
  audience: string;
  env: Env;
  fetch: typeof fetch;
  /** GitLab: the variable to read; default WEBEX_TOKEN_ID_TOKEN. */
  idTokenVariable?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export function parseOidcProvider(value: string): OidcProvider {
  if ((OIDC_PROVIDERS as readonly string[]).includes(value)) return value as OidcProvider;
  throw new UsageError(`--oidc must be one of: ${OIDC_PROVIDERS.join(', ')} (got "${value}")`);
}

/** The job's ID token for `audience`. */
export async function fetchIdToken(request: IdTokenRequest): Promise<string> {
  const token = request.provider === 'github' ? await fromGithub(request) : fromGitlab(request);
  checkShape(token, request);
  return token;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

async function fromGithub(request: IdTokenRequest): Promise<string> {
  const rawUrl = request.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = request.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!rawUrl || !bearer) {
    throw new UsageError(
      'This job has no GitHub OIDC token to ask for (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN are unset): add "permissions: id-token: write" to the workflow or the job, and run it on GitHub Actions.',
      { showUsage: false },
    );
  }
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new CliError(EXIT.server, 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL.');
  }
  // The request token is a credential: never send it in clear off the machine.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new CliError(EXIT.server, 'ACTIONS_ID_TOKEN_REQUEST_URL is not an https:// URL.');
  }
  url.searchParams.set('audience', request.audience);
  const signals = [AbortSignal.timeout(request.timeoutMs ?? 15_000)];
  if (request.signal) signals.push(request.signal);
  let res: Response;
  try {
    res = await request.fetch(url, {
      headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.any(signals),
    });
  } catch (err) {
    throw new CliError(
      EXIT.server,
      `Could not reach GitHub's ID token endpoint (${(err as Error).message}); run the job again.`,
    );
  }
  if (!res.ok) {
    const hint =
      res.status === 401 || res.status === 403
        ? ' Check that the job has "permissions: id-token: write".'
        : ' Run the job again; if it persists, see https://www.githubstatus.com.';
    throw new CliError(
      EXIT.server,
      `GitHub refused to issue an ID token (HTTP ${res.status}).${hint}`,
    );
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const value = (body as { value?: unknown } | undefined)?.value;
  if (typeof value !== 'string' || value === '') {
    throw new CliError(EXIT.server, "GitHub's ID token endpoint answered without a token.");
  }
  return value;
}

function fromGitlab(request: IdTokenRequest): string {
  const variable = request.idTokenVariable || DEFAULT_ID_TOKEN_VARIABLE;
  const value = request.env[variable];
  if (!value) {
    throw new UsageError(
      `This job has no ID token in $${variable}: declare it in .gitlab-ci.yml under the job, id_tokens: { ${variable}: { aud: "${request.audience}" } } (or name another variable with --id-token-variable / ${OIDC_ENV.idTokenVariable}).`,
      { showUsage: false },
    );
  }
  return value.trim();
}

/**
 * Catch the usual mistakes here, where the message can name the fix: something that is not a
 * JWT, or one minted for another audience (GitLab's `aud:` is typed by hand). The server still
 * verifies everything; this reads the payload without checking the signature.
 */
function checkShape(token: string, request: IdTokenRequest): void {
  const where =
    request.provider === 'github'
      ? 'GitHub'
      : `$${request.idTokenVariable || DEFAULT_ID_TOKEN_VARIABLE}`;
  const parts = token.split('.');
  let payload: { aud?: unknown } | undefined;
  try {
    if (parts.length === 3) {
      payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as {
        aud?: unknown;
      };
    }
  } catch {
    payload = undefined;
  }
  if (!payload || typeof payload !== 'object') {
    throw new UsageError(`The ID token from ${where} is not a JWT.`, { showUsage: false });
  }
  const aud = payload.aud;
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.includes(request.audience)) {
    const got = audiences.filter((a) => typeof a === 'string').join(', ') || 'none';
    throw new UsageError(
      `The ID token from ${where} is for audience "${got}", but the server expects "${request.audience}": set the job's aud (GitLab id_tokens) or --audience to match.`,
      { showUsage: false },
    );
  }
}
