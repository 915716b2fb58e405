/**
 * Where the token exchange finds the grants bound to a job without reading every grant: one
 * set per exact binding (issuer, audience, `sub`) and one per repository for widened bindings
 * (any branch, every job), named by keyed hashes. Members are candidates only; the exchange
 * checks each grant's own (sealed) binding with matchesBinding.
 */
import type { KeyedHasher } from '../../crypto';
import { type WorkloadBinding, parseSubject } from '../../workload/binding';
import type { VerifiedWorkload } from '../../workload/verify';

function digest(
  hasher: KeyedHasher,
  binding: Pick<WorkloadBinding, 'issuer' | 'audience'>,
  what: string,
) {
  return hasher.digest('grant_index_workload', `${binding.issuer}\n${binding.audience}\n${what}`);
}

/** The set a binding is listed in: its exact `sub`, or its repository when widened. */
export function workloadIndexKey(hasher: KeyedHasher, binding: WorkloadBinding): string {
  const parsed = binding.width === 'subject' ? null : parseSubject(binding.sub);
  // bindingFor offers widths only for subjects that parse; anything else is listed as exact.
  if (!parsed) return `grants:workload:sub:${digest(hasher, binding, `sub\n${binding.sub}`)}`;
  return `grants:workload:repo:${digest(hasher, binding, `repo\n${parsed.shape}\n${parsed.repository}`)}`;
}

/** The sets that may list a grant bound to this job: at most two, whatever the number of grants. */
export function workloadCandidateKeys(
  hasher: KeyedHasher,
  verified: Pick<VerifiedWorkload, 'issuer' | 'audience' | 'sub'>,
): string[] {
  const exact: WorkloadBinding = { ...verified, width: 'subject' };
  const keys = [workloadIndexKey(hasher, exact)];
  if (parseSubject(verified.sub))
    keys.push(workloadIndexKey(hasher, { ...exact, width: 'repository' }));
  return keys;
}
