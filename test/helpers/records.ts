/**
 * Reads the sealed records the service keeps in Redis (src/flows/records.ts), as an operator
 * holding the key could: tests look inside them, and forge or move them to play an attacker.
 */
import { Sealer } from '../../src/crypto';

const ROLES = ['flow', 'handoff', 'ucode', 'watch'] as const;

/** The role of a store key (without the prefix): its first segment, for the sealed kinds. */
export function roleOf(key: string): (typeof ROLES)[number] | null {
  const role = key.slice(0, key.indexOf(':'));
  return (ROLES as readonly string[]).includes(role) ? (role as (typeof ROLES)[number]) : null;
}

/** Open the value stored at `prefixedKey`; throws if it is not an authentic sealed record. */
export function openStored(
  keys: readonly Buffer[],
  prefix: string,
  prefixedKey: string,
  value: string,
): unknown {
  const key = prefixedKey.startsWith(prefix) ? prefixedKey.slice(prefix.length) : prefixedKey;
  const role = roleOf(key);
  if (!role) throw new Error(`${key} is not a sealed record`);
  return JSON.parse(new Sealer(keys).open(value, `${role}:${key}`)) as unknown;
}
