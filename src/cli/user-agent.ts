/**
 * What the CLI says about itself in its User-Agent: `webex-token/<version> (<os>; node
 * <version>; GITHUB_REPOSITORY=…; …)`. The approval page shows it as what the requester
 * claims (anyone can send any header), so it only helps an admin recognise a job they expect.
 * Printable ASCII and bounded, so every proxy passes it and the page shows all of it.
 */
import type { Env } from './args';

/** CI variables that name the job asking; shown as claims, never trusted. */
export const CI_HINTS = [
  'GITHUB_REPOSITORY',
  'GITHUB_RUN_ID',
  'CI_PROJECT_PATH',
  'CI_PIPELINE_ID',
] as const;

/** The service keeps the first 200 characters of a user agent. */
export const USER_AGENT_MAX = 200;

/** Visible ASCII without the characters that structure the header's comment. */
const clean = (value: string, max: number) =>
  value.replace(/[^\x21-\x7e]|[();\\]/g, '').slice(0, max);

export function cliUserAgent(
  version: string,
  env: Env,
  runtime: { platform: string; node: string } = {
    platform: process.platform,
    node: process.versions.node,
  },
): string {
  let ua = `webex-token/${clean(version, 40) || 'unknown'} (${clean(runtime.platform, 20) || 'unknown'}; node ${clean(runtime.node, 20) || 'unknown'}`;
  for (const name of CI_HINTS) {
    const value = clean(env[name] ?? '', 100);
    if (!value) continue;
    const hint = `; ${name}=${value}`;
    // Whole hints or none: a cut-off repository name would mislead more than a missing one.
    if (ua.length + hint.length + 1 > USER_AGENT_MAX) continue;
    ua += hint;
  }
  return `${ua})`;
}
