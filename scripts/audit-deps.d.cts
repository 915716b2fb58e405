/** Types for scripts/audit-deps.cjs (plain Node so CI runs it before anything is built). */
export interface Advisory {
  id: string;
  package: string;
  vulnerable: string;
  summary: string;
}
export interface Lockfile {
  packages?: Record<
    string,
    {
      version?: string;
      dev?: boolean;
      integrity?: string;
      resolved?: string;
      name?: string;
      link?: boolean;
    }
  >;
}
export function compareVersions(a: string, b: string): -1 | 0 | 1;
export function satisfies(version: string, range: string): boolean;
export function offlineFindings(lock: Lockfile, advisories: Advisory[]): string[];
export function reviewFindings(
  pkgJson: { dependencies?: Record<string, string> },
  lock: Lockfile,
  markdown: string,
): string[];
export function interpretAudit(
  stdout: string,
  level: string,
): { skipped?: string; findings?: string[] };
