/**
 * Webex organization ids come in two spellings: Control Hub shows the bare UUID, the REST API
 * (people/me's orgId) sends base64 of `ciscospark://us/ORGANIZATION/<uuid>`, usually without
 * padding. Both name the same org, so the service compares the UUIDs.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HYDRA_ORG = /^ciscospark:\/\/[a-z0-9-]+\/ORGANIZATION\/([0-9a-f-]{36})$/i;

/** The lowercase UUID an org id names, or null when it is neither form. */
export function orgUuid(value: string): string | null {
  const trimmed = value.trim();
  if (UUID.test(trimmed)) return trimmed.toLowerCase();
  // Standard or URL-safe alphabet, padded or not.
  if (!/^[A-Za-z0-9+/_-]{20,200}={0,2}$/.test(trimmed)) return null;
  const decoded = Buffer.from(trimmed.replace(/=+$/, ''), 'base64').toString('utf8');
  const match = HYDRA_ORG.exec(decoded);
  const uuid = match?.[1];
  return uuid && UUID.test(uuid) ? uuid.toLowerCase() : null;
}

/** The API's form of an org UUID: base64 (no padding) of its ciscospark:// URI. */
export function orgApiId(uuid: string, region = 'us'): string {
  return Buffer.from(`ciscospark://${region}/ORGANIZATION/${uuid.toLowerCase()}`)
    .toString('base64')
    .replace(/=+$/, '');
}
