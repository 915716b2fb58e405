/**
 * Which CI jobs a grant serves: the binding made at approval, and whether a verified ID token
 * matches it. Pure functions.
 *
 * By default a grant is bound to issuer + audience + the exact `sub` of the approved job's
 * token (for GitHub `repo:OWNER/REPO:ref:refs/heads/main`, for GitLab
 * `project_path:GROUP/PROJECT:ref_type:branch:ref:main`). The admin may widen it on the
 * approval page to any branch of that repository, or to every job of the repository; a
 * widening is only offered when the `sub` parses as one of the two known shapes, and widened
 * matching parses the presented `sub` by the same strict rules, so no prefix trick matches.
 */
import type { VerifiedWorkload } from './verify';

/** `subject`: exactly the approved `sub`. `any_branch`: any branch of the same repository. `repository`: every job of the repository (tags, pull requests, environments too). */
export const BINDING_WIDTHS = ['subject', 'any_branch', 'repository'] as const;
export type BindingWidth = (typeof BINDING_WIDTHS)[number];

export interface WorkloadBinding {
  /** The issuer URL (the `iss` claim). */
  issuer: string;
  audience: string;
  /** The `sub` of the token presented at approval. */
  sub: string;
  width: BindingWidth;
}

export interface ParsedSubject {
  shape: 'github' | 'gitlab';
  /** `OWNER/REPO` or `GROUP/…/PROJECT`. */
  repository: string;
  /** Branch name when the job ran for a branch; undefined for tags, pull requests, environments. */
  branch: string | undefined;
}

// Git ref names cannot contain ':' (git check-ref-format), nor can GitHub/GitLab paths.
const PATH_SEGMENT = '[A-Za-z0-9_.-]+';
const GITHUB = new RegExp(`^repo:(${PATH_SEGMENT}/${PATH_SEGMENT}):(.+)$`);
const GITHUB_BRANCH = /^ref:refs\/heads\/([^:]+)$/;
const GITLAB = new RegExp(
  `^project_path:(${PATH_SEGMENT}(?:/${PATH_SEGMENT})+):ref_type:(branch|tag):ref:([^:]+)$`,
);

/** The repository and branch a `sub` names, for the two known shapes; null otherwise. */
export function parseSubject(sub: string): ParsedSubject | null {
  const gh = GITHUB.exec(sub);
  if (gh) {
    const repository = gh[1] as string;
    const rest = gh[2] as string;
    const branch = GITHUB_BRANCH.exec(rest)?.[1];
    return { shape: 'github', repository, branch };
  }
  const gl = GITLAB.exec(sub);
  if (gl) {
    return {
      shape: 'gitlab',
      repository: gl[1] as string,
      branch: gl[2] === 'branch' ? gl[3] : undefined,
    };
  }
  return null;
}

/** The widths an approval page may offer for a token with this `sub`; `subject` always. */
export function availableWidths(sub: string): BindingWidth[] {
  return parseSubject(sub) ? [...BINDING_WIDTHS] : ['subject'];
}

/** The binding an approval creates; throws when the width is not available for this `sub`. */
export function bindingFor(
  verified: Pick<VerifiedWorkload, 'issuer' | 'audience' | 'sub'>,
  width: BindingWidth = 'subject',
): WorkloadBinding {
  if (!availableWidths(verified.sub).includes(width)) {
    throw new Error(`the width "${width}" is not available for this subject`);
  }
  return { issuer: verified.issuer, audience: verified.audience, sub: verified.sub, width };
}

/** Does a verified token belong to a job this binding serves? */
export function matchesBinding(
  binding: WorkloadBinding,
  verified: Pick<VerifiedWorkload, 'issuer' | 'audience' | 'sub'>,
): boolean {
  if (binding.issuer !== verified.issuer || binding.audience !== verified.audience) return false;
  if (binding.width === 'subject') return binding.sub === verified.sub;
  const bound = parseSubject(binding.sub);
  const presented = parseSubject(verified.sub);
  if (!bound || !presented) return false;
  if (bound.shape !== presented.shape || bound.repository !== presented.repository) return false;
  if (binding.width === 'any_branch') return presented.branch !== undefined;
  return binding.width === 'repository';
}

/** One sentence for the approval page and the console: what this width lets through. */
export function describeBinding(binding: WorkloadBinding): string {
  const parsed = parseSubject(binding.sub);
  switch (binding.width) {
    case 'any_branch':
      return `Jobs on any branch of ${parsed?.repository ?? binding.sub}: whoever can push a branch there gets these tokens.`;
    case 'repository':
      return `Every job of ${parsed?.repository ?? binding.sub}, including tags, environments and pull requests: whoever can run a workflow there gets these tokens.`;
    default:
      return `Only jobs whose subject is exactly ${binding.sub}.`;
  }
}
