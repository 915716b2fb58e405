/** Which device-flow client is asking (RFC 6749 §2.3), and which scopes it may get. */
import type { DeviceClientConfig } from '../../config';
import { safeEqual } from '../../crypto';
import { invalidClient, invalidScope, type OAuthError } from '../../errors';
import { checkRequestedScopes } from '../../webex/scopes';
import type { FlowDeps } from '../context';

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
  if (!client) {
    throw invalidClient(
      creds.clientId
        ? `Unknown client_id "${creds.clientId.slice(0, 64).replace(/[^\w.-]/g, '?')}". Ask the operators which client id to use (the bundled CLI uses "cli").`
        : 'client_id is required.',
      { basic: creds.authenticated },
    );
  }
  if (client.secret) {
    if (!creds.clientSecret || !safeEqual(creds.clientSecret, client.secret)) {
      throw invalidClient(
        `Client "${client.id}" is confidential: authenticate with its client secret (HTTP Basic or client_secret).`,
        { basic: true },
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
    if (check.problems.length > 0) throw refusedScopes(check.problems);
    return config.staticScopes;
  }
  const allowed = client.scopes
    ? config.allowedScopes.filter((s) => client.scopes!.includes(s))
    : config.allowedScopes;
  const check = checkRequestedScopes(requested, allowed);
  if (check.problems.length > 0) throw refusedScopes(check.problems);
  if (check.ok.length === 0) {
    throw invalidScope(
      'Ask for at least one scope, space-separated in the "scope" parameter (see scopes_supported in the server metadata).',
    );
  }
  return check.ok;
}

function refusedScopes(problems: { scope: string; reason: string }[]): OAuthError {
  const text = problems
    .slice(0, 10)
    .map((p) => `${p.scope.slice(0, 80)} ${p.reason}`)
    .join('; ');
  return invalidScope(`Refused scopes: ${text}.`);
}
