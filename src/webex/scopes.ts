/**
 * The Webex scope catalog: the one place that names the scopes this service offers,
 * what each is for, and how the home page groups them. `spark:all` is deliberately absent:
 * it is a blanket user grant, not a scoped admin token.
 */

export interface ScopeInfo {
  scope: string;
  group: ScopeGroup;
  description: string;
  /** The Webex documentation page that confirms the scope; every catalog entry has one. */
  source?: ScopeSource;
}

/**
 * Where each catalog entry was confirmed on developer.webex.com. docs/webex.md lists the
 * same pages; a reviewer holding Webex's documentation checks an entry against its page.
 */
export const SCOPE_SOURCES = {
  scopes: 'Integration Scopes: https://developer.webex.com/docs/integration-scopes',
  people: 'People API: https://developer.webex.com/docs/api/v1/people',
  organizations: 'Organizations API: https://developer.webex.com/docs/api/v1/organizations',
  partnerAdmins:
    'Partner Administrators API: https://developer.webex.com/admin/docs/api/v1/partner-administrators',
  groups: 'Groups API: https://developer.webex.com/docs/api/v1/groups',
  scim: 'SCIM 2 Users and Groups: https://developer.webex.com/docs/api/v1/scim2-user',
  recordings: 'Recordings API: https://developer.webex.com/docs/api/v1/recordings',
  convergedRecordings:
    'Converged Recordings API: https://developer.webex.com/docs/api/v1/converged-recordings',
  transcripts:
    'Meeting Transcripts API: https://developer.webex.com/docs/api/v1/meeting-transcripts',
  analytics:
    'Historical Analytics API: https://developer.webex.com/docs/api/v1/historical-analytics',
  authorizations: 'Authorizations API: https://developer.webex.com/docs/api/v1/authorizations',
  compliance: 'Compliance guide: https://developer.webex.com/docs/api/guides/compliance',
  calling:
    'Webex Calling integrations: https://developer.webex.com/docs/api/guides/integrations-and-authorization',
  wholesale:
    'Wholesale Provisioning API: https://developer.webex.com/docs/api/v1/wholesale-subscribers',
  broadworks:
    'BroadWorks Enterprises API: https://developer.webex.com/docs/api/v1/broadworks-enterprises',
  devices: 'Devices API and xAPI: https://developer.webex.com/docs/api/v1/devices',
} as const;

export type ScopeSource = keyof typeof SCOPE_SOURCES;

export type ScopeGroup =
  | 'Admin'
  | 'Calling'
  | 'Devices & xAPI'
  | 'Compliance'
  | 'Meetings'
  | 'Identity & audit'
  | 'Partner'
  | 'User';

const SCOPE_GROUPS: readonly ScopeGroup[] = [
  'Admin',
  'Calling',
  'Devices & xAPI',
  'Compliance',
  'Meetings',
  'Identity & audit',
  'Partner',
  'User',
];

import { RENAMED_SCOPES, REMOVED_SCOPES, SCOPE_CATALOG } from './scope-catalog';

export { RENAMED_SCOPES, REMOVED_SCOPES, SCOPE_CATALOG };

const BY_SCOPE = new Map(SCOPE_CATALOG.map((s) => [s.scope, s]));

/** Scopes this service never asks for, whatever the configuration says. */
export const FORBIDDEN_SCOPES: ReadonlySet<string> = new Set(['spark:all']);

/** A well-formed Webex scope: `prefix:name`. */
const SCOPE_SYNTAX = /^[a-z][a-z0-9-]{0,40}:[a-z][a-z0-9_]{0,80}$/i;

/** Catalog entry for a scope, or a generic one for a well-formed scope the catalog lacks. */
export function describeScope(scope: string): ScopeInfo {
  return (
    BY_SCOPE.get(scope) ?? {
      scope,
      group: 'Admin',
      description: 'Not in the built-in catalog; see the Webex developer documentation',
    }
  );
}

export function isCatalogScope(scope: string): boolean {
  return BY_SCOPE.has(scope);
}

/** Named starting points on the home page. */
export interface ScopePreset {
  id: string;
  label: string;
  description: string;
  scopes: string[];
}

const catalogWhere = (pred: (s: ScopeInfo) => boolean) =>
  SCOPE_CATALOG.filter(pred).map((s) => s.scope);

export const SCOPE_PRESETS: readonly ScopePreset[] = [
  {
    id: 'readonly-admin',
    label: 'Read-only admin',
    description: 'Every admin read scope, plus the audit log',
    scopes: catalogWhere(
      (s) =>
        (s.scope.startsWith('spark-admin:') &&
          s.scope.endsWith('_read') &&
          s.group !== 'Partner') ||
        s.scope === 'audit:events_read',
    ),
  },
  {
    id: 'compliance-officer',
    label: 'Compliance officer',
    description: 'Every compliance scope, plus spark:kms to decrypt content',
    scopes: [...catalogWhere((s) => s.group === 'Compliance'), 'spark:kms'],
  },
  {
    id: 'device-manager',
    label: 'Device manager',
    description: 'Devices, workspaces and xAPI',
    scopes: [
      'spark-admin:devices_read',
      'spark-admin:devices_write',
      'spark-admin:workspaces_read',
      'spark-admin:workspaces_write',
      'spark:xapi_statuses',
      'spark:xapi_commands',
    ],
  },
  {
    id: 'calling-admin',
    label: 'Calling admin',
    description: 'Webex Calling configuration, call history and locations',
    scopes: [
      ...catalogWhere((s) => s.group === 'Calling'),
      'spark-admin:locations_read',
      'spark-admin:people_read',
    ],
  },
];

export interface ParsedScopes {
  /** Well-formed, de-duplicated scopes in the order given. */
  scopes: string[];
  /** Entries that are not a usable scope, with the reason. */
  unknown: string[];
}

/**
 * Split a space-separated scope string (RFC 6749 §3.3). Malformed entries and forbidden
 * scopes land in `unknown`. With defaultToCatalog, an empty input means the whole catalog.
 */
export function parseScopeList(
  value: string,
  opts: { defaultToCatalog?: boolean } = {},
): ParsedScopes {
  const parts = value.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0 && opts.defaultToCatalog) {
    return { scopes: SCOPE_CATALOG.map((s) => s.scope), unknown: [] };
  }
  const scopes: string[] = [];
  const unknown: string[] = [];
  for (const part of parts) {
    if (!SCOPE_SYNTAX.test(part) || FORBIDDEN_SCOPES.has(part)) unknown.push(part);
    else if (!scopes.includes(part)) scopes.push(part);
  }
  return { scopes, unknown };
}

/** Why a renamed or removed scope is refused, naming the scope to use instead; null otherwise. */
export function replacedScopeReason(scope: string): string | null {
  const renamed = RENAMED_SCOPES.get(scope);
  if (renamed) return `is not a Webex scope: Webex names it ${renamed}`;
  const instead = REMOVED_SCOPES.get(scope);
  if (instead) return `does not exist in Webex: ask for ${instead} instead`;
  return null;
}

export interface ScopeCheck {
  ok: string[];
  problems: { scope: string; reason: string }[];
}

/**
 * Check requested scopes against what is allowed, giving a human reason for each refusal.
 * Used by the browser flow and the device flow so both refuse with the same words.
 */
export function checkRequestedScopes(requested: string, allowed: readonly string[]): ScopeCheck {
  const raw = requested.split(/[\s,]+/).filter(Boolean);
  const ok: string[] = [];
  const problems: { scope: string; reason: string }[] = [];
  const allowedSet = new Set(allowed);
  for (const scope of raw.slice(0, 200)) {
    if (ok.includes(scope) || problems.some((p) => p.scope === scope)) continue;
    if (FORBIDDEN_SCOPES.has(scope)) {
      // The scope name comes first in every rendering of a problem: the reason must not repeat it.
      problems.push({
        scope,
        reason:
          'is never issued by this service (it would grant everything the signer can do): pick the specific scopes you need',
      });
    } else if (!SCOPE_SYNTAX.test(scope)) {
      problems.push({ scope, reason: 'is not a Webex scope name (expected prefix:name)' });
    } else if (RENAMED_SCOPES.has(scope) || REMOVED_SCOPES.has(scope)) {
      problems.push({ scope, reason: replacedScopeReason(scope)! });
    } else if (!allowedSet.has(scope)) {
      problems.push({
        scope,
        reason: isCatalogScope(scope)
          ? 'is a Webex scope, but this service is not configured to issue it'
          : 'is not a scope this service knows',
      });
    } else {
      ok.push(scope);
    }
  }
  if (raw.length > 200) {
    problems.push({
      scope: `(${raw.length - 200} more)`,
      reason: 'too many scopes in one request',
    });
  }
  return { ok, problems };
}

/** The home page's view of the offered scopes: catalog groups in order, empty ones dropped. */
export function groupScopes(
  offered: readonly string[],
): { name: ScopeGroup; scopes: ScopeInfo[] }[] {
  return SCOPE_GROUPS.map((name) => ({
    name,
    scopes: offered.map(describeScope).filter((s) => s.group === name),
  })).filter((g) => g.scopes.length > 0);
}

/** Presets narrowed to the offered scopes; presets left empty are dropped. */
export function presetsFor(offered: readonly string[]): ScopePreset[] {
  return SCOPE_PRESETS.map((p) => ({
    ...p,
    scopes: p.scopes.filter((s) => offered.includes(s)),
  })).filter((p) => p.scopes.length > 0);
}

/** Scopes that let GET /people/me answer: Webex refuses it (403) without one of these. */
const PEOPLE_READING_SCOPES: ReadonlySet<string> = new Set([
  'spark:people_read',
  'spark-admin:people_read',
  'spark:all',
]);

export function canReadPeopleMe(scopes: readonly string[]): boolean {
  return scopes.some((s) => PEOPLE_READING_SCOPES.has(s));
}

/**
 * The scope the service adds to a sign-in so it learns who signed in, or null when the picked
 * scopes already read people/me or the operator switched identity off (IDENTITY_SCOPE=none).
 */
export function identityScopeFor(
  identityScope: string | null,
  picked: readonly string[],
): string | null {
  if (identityScope === null || canReadPeopleMe(picked)) return null;
  return identityScope;
}
