/**
 * RFC 8414 discovery: where the service's endpoints are, and what the webex-scoped-tokens
 * extension says about it (version, waiting polls, scope mode).
 */
import { CliError, EXIT } from './errors';
import { type Deps, clean, httpUrl, isObject, parseJson, request } from './http';
import { serverSaid } from './oauth-error';

const METADATA_PATH = '/.well-known/oauth-authorization-server';

export interface ServerMetadata {
  issuer: string;
  deviceAuthorizationEndpoint: string;
  tokenEndpoint: string;
  /** The service's version from the `webex_scoped_tokens` extension, when given. */
  version: string | undefined;
  /** Longest `wait` a poll may ask for; 0 when the server does not offer waiting. */
  pollWaitMaxSeconds: number;
  /** RFC 7009 endpoint, used to cancel a handoff the CLI gives up on. */
  revocationEndpoint: string | undefined;
  /** `dynamic` (the request must name scopes) or `static` (fixed scopes), when the server says. */
  scopesMode: 'dynamic' | 'static' | undefined;
  scopesSupported: string[];
}

/** Fetches and checks the server's RFC 8414 metadata. */
export async function discover(server: string, deps: Deps): Promise<ServerMetadata> {
  const url = `${server}${METADATA_PATH}`;
  const answer = await request(url, { headers: { accept: 'application/json' } }, deps, 15_000);
  const notOurs = (why: string): CliError =>
    new CliError(EXIT.server, `${server} is not a webex-scoped-tokens server (${why})`);
  if (answer.status === 404) {
    throw notOurs(`${METADATA_PATH} answered 404 Not Found`);
  }
  if (answer.status < 200 || answer.status >= 300) {
    throw new CliError(EXIT.server, serverSaid(answer, `fetching ${url}`));
  }
  const body = parseJson(answer.text);
  if (!isObject(body)) {
    const type = answer.headers.get('content-type')?.split(';')[0] ?? 'no content type';
    throw notOurs(`its metadata is not a JSON object but ${clean(type, 60)}`);
  }
  const ext = body.webex_scoped_tokens;
  if (!isObject(ext)) throw notOurs('its metadata has no webex_scoped_tokens');
  const deviceAuthorizationEndpoint = httpUrl(body.device_authorization_endpoint);
  if (deviceAuthorizationEndpoint === undefined) {
    throw notOurs('its metadata has no device_authorization_endpoint');
  }
  const tokenEndpoint = httpUrl(body.token_endpoint);
  if (tokenEndpoint === undefined) throw notOurs('its metadata has no token_endpoint');
  const waitMax = ext.poll_wait_max_seconds;
  const mode = ext.scopes_mode;
  return {
    revocationEndpoint: httpUrl(body.revocation_endpoint),
    scopesMode: mode === 'dynamic' || mode === 'static' ? mode : undefined,
    scopesSupported: Array.isArray(body.scopes_supported)
      ? body.scopes_supported
          .filter((x): x is string => typeof x === 'string')
          .map((x) => clean(x, 80))
      : [],
    issuer: typeof body.issuer === 'string' ? body.issuer : server,
    deviceAuthorizationEndpoint,
    tokenEndpoint,
    version: typeof ext.version === 'string' ? clean(ext.version, 40) : undefined,
    pollWaitMaxSeconds:
      typeof waitMax === 'number' && Number.isFinite(waitMax) && waitMax >= 1
        ? Math.floor(waitMax)
        : 0,
  };
}
