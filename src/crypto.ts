/**
 * Randomness, hashing, constant-time comparison and AES-256-GCM sealing.
 * Everything secret that touches the store passes through here first.
 */
import crypto from 'node:crypto';

/** URL-safe random string with `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

/**
 * HMAC-SHA256 under a server key, in base64url: the store key for codes, addresses and other
 * values we must look up but not keep. A plain hash would not do: user codes (20^8) and every
 * IPv4 address hash in minutes, so anyone reading Redis could invert them. `purpose` separates
 * domains, so a device code's digest never equals a CSRF token or a rate-limit key.
 */
export class KeyedHasher {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error('the keyed-hash key must be at least 32 bytes');
    this.key = Buffer.from(key);
  }

  /** The hashing key for an AES key: HKDF-SHA256 with its own label, never the AES key itself. */
  static derivedFrom(secret: Buffer): KeyedHasher {
    return new KeyedHasher(
      Buffer.from(
        crypto.hkdfSync('sha256', secret, Buffer.alloc(0), 'webex-scoped-tokens keyed-hash v1', 32),
      ),
    );
  }

  digest(purpose: string, value: string): string {
    return crypto
      .createHmac('sha256', this.key)
      .update(`${purpose}\0${value}`, 'utf8')
      .digest('base64url');
  }
}

/** Constant-time equality on the digests, so unequal lengths leak nothing and never throw. */
export function safeEqual(a: string, b: string): boolean {
  const da = crypto.hash('sha256', a, 'buffer');
  const db = crypto.hash('sha256', b, 'buffer');
  return crypto.timingSafeEqual(da, db);
}

/** RFC 7636 S256 code challenge for a verifier. */
export function pkceChallenge(verifier: string): string {
  return crypto.createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** RFC 8628 §6.1: consonants only, so codes never spell words and are easy to read aloud. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;

export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) {
    code += USER_CODE_ALPHABET[crypto.randomInt(USER_CODE_ALPHABET.length)];
  }
  return code;
}

/** Display form: `XXXX-XXXX`. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * Canonical form of what a person typed: letters upper-cased, dashes and spaces dropped.
 * Returns null when the result cannot be a user code.
 */
export function normalizeUserCode(input: string): string | null {
  const cleaned = input.toUpperCase().replace(/[\s-]/g, '');
  if (cleaned.length !== USER_CODE_LENGTH) return null;
  for (const ch of cleaned) if (!USER_CODE_ALPHABET.includes(ch)) return null;
  return cleaned;
}

/** Raised when sealed data cannot be opened: tampered, truncated, or sealed with an unknown key. */
export class SealError extends Error {
  override name = 'SealError';
}

/**
 * AES-256-GCM with key rotation: the first key seals, every key opens.
 * Format: `v1.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts). The `context` string is
 * bound as additional data so a sealed value cannot be replayed under another key name.
 */
export class Sealer {
  private readonly keys: { id: string; key: Buffer }[];
  /**
   * Keyed hashes, derived from the last (oldest) key: a rotation adds the new key in front, so
   * replicas with the old and the new list agree on every digest during the rollout. Dropping
   * that last key changes every digest: sign-ins and handoffs in progress are forgotten and
   * rate-limit windows restart.
   */
  readonly hasher: KeyedHasher;

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('Sealer needs at least one key');
    this.keys = keys.map((key) => {
      if (key.length !== 32) throw new Error('AES-256-GCM keys must be 32 bytes');
      return { id: crypto.createHash('sha256').update(key).digest('hex').slice(0, 8), key };
    });
    this.hasher = KeyedHasher.derivedFrom(this.keys[this.keys.length - 1]!.key);
  }

  seal(plaintext: string, context: string): string {
    const { id, key } = this.keys[0]!;
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      'v1',
      id,
      iv.toString('base64url'),
      ct.toString('base64url'),
      tag.toString('base64url'),
    ].join('.');
  }

  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== 'v1') throw new SealError('not a sealed value');
    const [, id, ivB64, ctB64, tagB64] = parts as [string, string, string, string, string];
    const entry = this.keys.find((k) => k.id === id);
    if (!entry) throw new SealError('sealed with a key that is no longer configured');
    const iv = Buffer.from(ivB64, 'base64url');
    const tag = Buffer.from(tagB64, 'base64url');
    if (iv.length !== 12 || tag.length !== 16) throw new SealError('malformed sealed value');
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', entry.key, iv);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([
        decipher.update(Buffer.from(ctB64, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SealError('sealed value failed authentication (tampered or wrong key)');
    }
  }
}
