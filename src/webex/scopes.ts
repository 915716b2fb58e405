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

const S = (
  group: ScopeGroup,
  scope: string,
  description: string,
  source: ScopeSource = 'scopes',
): ScopeInfo => ({ scope, group, description, source });

/**
 * Scopes the catalog once had under a wrong name, with the name Webex uses. Kept so a
 * bookmarked /start link or a DEVICE_CLIENTS entry with the old name gets a precise refusal.
 */
export const RENAMED_SCOPES: ReadonlyMap<string, string> = new Map([
  ['meeting:admin_transcript_read', 'meeting:admin_transcripts_read'],
]);

/**
 * Scopes the catalog once listed that Webex does not have, with what to ask for instead.
 * Compliance officers read transcripts with spark-compliance:meetings_read.
 */
export const REMOVED_SCOPES: ReadonlyMap<string, string> = new Map([
  ['spark-compliance:transcripts_read', 'spark-compliance:meetings_read'],
]);

export const SCOPE_CATALOG: readonly ScopeInfo[] = [
  S(
    'Admin',
    'spark-admin:people_read',
    'Read people, their licenses and roles in your org',
    'people',
  ),
  S('Admin', 'spark-admin:people_write', 'Create, update and delete people in your org', 'people'),
  S(
    'Admin',
    'spark-admin:organizations_read',
    'Read your organization and its settings',
    'organizations',
  ),
  S(
    'Admin',
    'spark-admin:organizations_write',
    'Change or delete organizations you manage',
    'partnerAdmins',
  ),
  S('Admin', 'spark-admin:licenses_read', 'Read the licenses of your organization'),
  S('Admin', 'spark-admin:roles_read', 'Read the admin roles available in your org'),
  S('Admin', 'spark-admin:locations_read', 'Read locations and their addresses'),
  S('Admin', 'spark-admin:locations_write', 'Create and update locations'),
  S('Admin', 'spark-admin:workspaces_read', 'Read workspaces (rooms with devices)'),
  S('Admin', 'spark-admin:workspaces_write', 'Create, update and delete workspaces'),
  S('Admin', 'spark-admin:workspace_locations_read', 'Read workspace locations and floors'),
  S('Admin', 'spark-admin:workspace_locations_write', 'Manage workspace locations and floors'),
  S('Admin', 'spark-admin:workspace_metrics_read', 'Read workspace sensor metrics'),
  S('Admin', 'spark-admin:places_read', 'Read places (legacy workspaces)'),
  S('Admin', 'spark-admin:places_write', 'Manage places (legacy workspaces)'),
  S('Admin', 'spark-admin:resource_groups_read', 'Read hybrid resource groups'),
  S('Admin', 'spark-admin:resource_group_memberships_read', 'Read resource group memberships'),
  S('Admin', 'spark-admin:resource_group_memberships_write', 'Change resource group memberships'),
  S('Admin', 'spark-admin:hybrid_clusters_read', 'Read hybrid services clusters'),
  S('Admin', 'spark-admin:hybrid_connectors_read', 'Read hybrid services connectors'),
  S('Admin', 'spark-admin:reports_read', 'Read and download usage reports'),
  S('Admin', 'spark-admin:reports_write', 'Create and delete usage reports'),
  S('Admin', 'spark-admin:call_qualities_read', 'Read meeting and call quality data'),
  S(
    'Admin',
    'spark-admin:recordings_read',
    'Read meeting and calling recordings of the org',
    'recordings',
  ),
  S(
    'Admin',
    'spark-admin:recordings_write',
    'Move, delete and restore recordings of the org',
    'recordings',
  ),
  S(
    'Admin',
    'analytics:read_all',
    'Read historical analytics (meetings, messaging, devices)',
    'analytics',
  ),
  S('Admin', 'spark-admin:datasource_read', 'Read AI assistant data sources'),
  S('Admin', 'spark-admin:datasource_write', 'Register and update AI assistant data sources'),
  S('Calling', 'spark-admin:telephony_config_read', 'Read Webex Calling configuration', 'calling'),
  S(
    'Calling',
    'spark-admin:telephony_config_write',
    'Change Webex Calling configuration',
    'calling',
  ),
  S('Calling', 'spark-admin:telephony_pstn_read', 'Read PSTN connection settings', 'calling'),
  S('Calling', 'spark-admin:telephony_pstn_write', 'Change PSTN connection settings', 'calling'),
  S(
    'Calling',
    'spark-admin:calling_cdr_read',
    'Read calling detailed call history (CDR)',
    'calling',
  ),
  S('Calling', 'spark-admin:calls_read', 'Read active calls of people in your org', 'calling'),
  S(
    'Calling',
    'spark-admin:calls_write',
    'Control calls on behalf of people in your org',
    'calling',
  ),
  S('Devices & xAPI', 'spark-admin:devices_read', 'Read devices and their status', 'devices'),
  S('Devices & xAPI', 'spark-admin:devices_write', 'Add, configure and delete devices', 'devices'),
  S('Devices & xAPI', 'spark:xapi_statuses', 'Read device status through xAPI', 'devices'),
  S('Devices & xAPI', 'spark:xapi_commands', 'Run xAPI commands on devices', 'devices'),
  S(
    'Compliance',
    'spark-compliance:events_read',
    'Read compliance events across the org',
    'compliance',
  ),
  S('Compliance', 'spark-compliance:messages_read', 'Read every message in the org', 'compliance'),
  S(
    'Compliance',
    'spark-compliance:messages_write',
    'Delete or redact messages in the org',
    'compliance',
  ),
  S('Compliance', 'spark-compliance:rooms_read', 'Read every space in the org', 'compliance'),
  S('Compliance', 'spark-compliance:rooms_write', 'Update spaces in the org', 'compliance'),
  S('Compliance', 'spark-compliance:memberships_read', 'Read every space membership', 'compliance'),
  S(
    'Compliance',
    'spark-compliance:memberships_write',
    'Add and remove space members',
    'compliance',
  ),
  S('Compliance', 'spark-compliance:teams_read', 'Read every team in the org', 'compliance'),
  S(
    'Compliance',
    'spark-compliance:team_memberships_read',
    'Read every team membership',
    'compliance',
  ),
  S(
    'Compliance',
    'spark-compliance:team_memberships_write',
    'Change team memberships',
    'compliance',
  ),
  S(
    'Compliance',
    'spark-compliance:meetings_read',
    'Read meetings, recordings and transcripts for compliance',
    'transcripts',
  ),
  S(
    'Compliance',
    'spark-compliance:meetings_write',
    'Change meetings for compliance',
    'compliance',
  ),
  S(
    'Compliance',
    'spark-compliance:recordings_read',
    'Read calling recordings for compliance',
    'convergedRecordings',
  ),
  S(
    'Compliance',
    'spark-compliance:recordings_write',
    'Delete calling recordings for compliance',
    'convergedRecordings',
  ),
  S(
    'Compliance',
    'spark-compliance:webhooks_read',
    'Read org-wide compliance webhooks',
    'compliance',
  ),
  S(
    'Compliance',
    'spark-compliance:webhooks_write',
    'Create org-wide compliance webhooks',
    'compliance',
  ),
  S('Meetings', 'meeting:admin_schedule_read', 'Read meetings of any user in the org'),
  S('Meetings', 'meeting:admin_schedule_write', 'Schedule meetings for any user in the org'),
  S('Meetings', 'meeting:admin_recordings_read', 'Read recordings of any user in the org'),
  S('Meetings', 'meeting:admin_recordings_write', 'Manage recordings of any user in the org'),
  S('Meetings', 'meeting:admin_preferences_read', 'Read meeting preferences of any user'),
  S('Meetings', 'meeting:admin_preferences_write', 'Change meeting preferences of any user'),
  S('Meetings', 'meeting:admin_participants_read', 'Read participants of any meeting'),
  S('Meetings', 'meeting:admin_config_read', 'Read site-wide meeting configuration'),
  S('Meetings', 'meeting:admin_config_write', 'Change site-wide meeting configuration'),
  S(
    'Meetings',
    'meeting:admin_transcripts_read',
    'Read transcripts of any meeting in the org',
    'transcripts',
  ),
  S('Meetings', 'meeting:schedules_read', 'Read your own meetings'),
  S('Meetings', 'meeting:schedules_write', 'Schedule your own meetings'),
  S('Meetings', 'meeting:recordings_read', 'Read your own recordings'),
  S('Meetings', 'meeting:participants_read', 'Read participants of your meetings'),
  S('Meetings', 'meeting:transcripts_read', 'Read transcripts of your own meetings', 'transcripts'),
  S('Identity & audit', 'audit:events_read', 'Read the admin audit log of your org'),
  S('Identity & audit', 'identity:people_read', 'Read users and groups through SCIM 2', 'scim'),
  S(
    'Identity & audit',
    'identity:people_rw',
    'Create and update users and groups through SCIM 2',
    'scim',
  ),
  S(
    'Identity & audit',
    'identity:groups_read',
    'Read groups and their members (/v1/groups)',
    'groups',
  ),
  S(
    'Identity & audit',
    'identity:groups_rw',
    'Create, update and delete groups (/v1/groups)',
    'groups',
  ),
  S(
    'Identity & audit',
    'identity:tokens_read',
    'List the app authorizations of people in your org',
    'authorizations',
  ),
  S(
    'Identity & audit',
    'identity:tokens_write',
    'Revoke app authorizations of people in your org',
    'authorizations',
  ),
  S(
    'Identity & audit',
    'identity:organizations_read',
    'Read organization identity settings',
    'scopes',
  ),
  S(
    'Identity & audit',
    'identity:organizations_rw',
    'Change organization identity settings',
    'scopes',
  ),
  S('Partner', 'spark-admin:wholesale_customers_read', 'Read wholesale customers', 'wholesale'),
  S(
    'Partner',
    'spark-admin:wholesale_customers_write',
    'Provision wholesale customers',
    'wholesale',
  ),
  S('Partner', 'spark-admin:wholesale_subscribers_read', 'Read wholesale subscribers', 'wholesale'),
  S(
    'Partner',
    'spark-admin:wholesale_subscribers_write',
    'Provision wholesale subscribers',
    'wholesale',
  ),
  S(
    'Partner',
    'spark-admin:wholesale_sub_partners_read',
    'Read wholesale sub-partners',
    'wholesale',
  ),
  S(
    'Partner',
    'spark-admin:wholesale_sub_partners_write',
    'Provision wholesale sub-partners',
    'wholesale',
  ),
  S('Partner', 'spark-admin:wholesale_billing_reports_read', 'Read wholesale billing reports'),
  S('Partner', 'spark-admin:wholesale_billing_reports_write', 'Create wholesale billing reports'),
  S(
    'Partner',
    'spark-admin:broadworks_enterprises_read',
    'Read BroadWorks enterprises',
    'broadworks',
  ),
  S(
    'Partner',
    'spark-admin:broadworks_enterprises_write',
    'Manage BroadWorks enterprises',
    'broadworks',
  ),
  S('Partner', 'spark-admin:broadworks_subscribers_read', 'Read BroadWorks subscribers'),
  S('Partner', 'spark-admin:broadworks_subscribers_write', 'Provision BroadWorks subscribers'),
  S('Partner', 'spark-admin:broadworks_billing_reports_read', 'Read BroadWorks billing reports'),
  S('Partner', 'spark-admin:broadworks_billing_reports_write', 'Create BroadWorks billing reports'),
  S('User', 'spark:people_read', 'Read your own profile and search the directory'),
  S('User', 'spark:kms', 'Use encryption keys (needed to read message content)'),
  S('User', 'spark:rooms_read', 'List your spaces'),
  S('User', 'spark:rooms_write', 'Create and manage your spaces'),
  S('User', 'spark:memberships_read', 'List members of your spaces'),
  S('User', 'spark:memberships_write', 'Add and remove members of your spaces'),
  S('User', 'spark:messages_read', 'Read messages in your spaces'),
  S('User', 'spark:messages_write', 'Post and delete your messages'),
  S('User', 'spark:teams_read', 'List your teams'),
  S('User', 'spark:teams_write', 'Create and manage your teams'),
  S('User', 'spark:calls_read', 'Read your active calls'),
  S('User', 'spark:calls_write', 'Place and control your calls'),
  S('User', 'spark:telephony_config_read', 'Read your calling settings'),
  S('User', 'spark:telephony_config_write', 'Change your calling settings'),
];

const BY_SCOPE = new Map(SCOPE_CATALOG.map((s) => [s.scope, s]));

/** Scopes this service never asks for, whatever the configuration says. */
const FORBIDDEN_SCOPES: ReadonlySet<string> = new Set(['spark:all']);

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
