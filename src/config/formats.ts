/**
 * The formats of the configuration schema: each one validates a value and, as an assertion,
 * tells the schema's type (schema.ts) what a valid value is.
 */
import { parseWorkloadAlgorithms, parseWorkloadIssuers } from '../workload/issuers';
import type { DeviceClientConfig } from './app-config';

/** A convict format that asserts the type of what it accepts. */
export type Format<T> = (value: unknown) => asserts value is T;

export const isUrl = (allowEmpty: boolean): Format<string> =>
  function isHttpUrl(value) {
    if (allowEmpty && value === '') return;
    if (typeof value !== 'string') throw new Error('must be an http(s) URL');
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new Error('must be an absolute http(s) URL, e.g. https://tokens.example.com');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new Error('must use http or https');
    }
  };

export const isWholeNumber = (min: number, max: number): Format<number> =>
  function isWholeNumberInRange(value) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`must be a whole number between ${min} and ${max}`);
    }
  };

export const isPositiveInt = (max: number): Format<number> => isWholeNumber(1, max);

/** Base64 key list: the first key encrypts, every key decrypts (rotation). */
export const isKeyList: Format<string> = (value) => {
  if (value === '') return;
  if (typeof value !== 'string') throw new Error('must be base64 keys separated by commas');
  for (const part of value.split(',')) {
    const trimmed = part.trim();
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
      throw new Error('must be base64-encoded 32-byte keys separated by commas (malformed base64)');
    }
    if (Buffer.from(trimmed, 'base64').length !== 32) {
      throw new Error(
        'each key must decode to exactly 32 bytes; generate one with: openssl rand -base64 32',
      );
    }
  }
};

const BOOLEAN_WORDS = ['true', 'false', '1', '0', 'yes', 'no'];

/**
 * A yes/no setting as written: a word from the environment, or a boolean from a config file.
 * resolve() reads it with toBoolean().
 */
type Flag = string | boolean;

/** Strict booleans: convict's built-in Boolean turns any typo into true. */
export const isBoolean: Format<Flag> = (value) => {
  if (typeof value === 'boolean') return;
  if (typeof value !== 'string' || !BOOLEAN_WORDS.includes(value.toLowerCase())) {
    throw new Error('must be true or false');
  }
};

export function toBoolean(value: Flag): boolean {
  return (
    value === true ||
    (typeof value === 'string' && ['true', '1', 'yes'].includes(value.toLowerCase()))
  );
}

export const isString: Format<string> = (value) => {
  if (typeof value !== 'string') throw new Error('must be a string');
};

/** One redis:// or rediss:// URL, or several separated by commas (cluster and sentinel seeds). */
export const isRedisUrl: Format<string> = (value) => {
  if (value === '') return;
  if (typeof value !== 'string') throw new Error('must be a redis:// or rediss:// URL');
  for (const part of value.split(',')) {
    const url = part.trim();
    if (!/^rediss?:\/\//.test(url)) {
      throw new Error('must be a redis:// or rediss:// URL (or several, separated by commas)');
    }
    try {
      new URL(url);
    } catch {
      throw new Error('must be a valid redis:// or rediss:// URL');
    }
  }
};

/** `auto`, or a whole number of replicas from 0 to 10 (a string when it comes from the env). */
export const isWaitReplicas: Format<'auto' | number | string> = (value) => {
  if (value === 'auto') return;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 10) {
    throw new Error('must be auto or a whole number of replicas between 0 and 10');
  }
};

/** DEVICE_CLIENTS: JSON text from the environment, or the array itself from a config file. */
export const isClientList: Format<string | DeviceClientConfig[]> = (value) => {
  const list: unknown = typeof value === 'string' ? safeJson(value) : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error('must be a non-empty JSON array of {"id","name",...} objects');
  }
  const seen = new Set<string>();
  for (const item of list) {
    if (typeof item !== 'object' || item === null) throw new Error('each client must be an object');
    const c = item as Record<string, unknown>;
    if (typeof c.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(c.id)) {
      throw new Error('each client needs an "id" of 1-64 letters, digits, ".", "_" or "-"');
    }
    if (seen.has(c.id)) throw new Error(`client id "${c.id}" is listed twice`);
    seen.add(c.id);
    if (typeof c.name !== 'string' || c.name.length === 0 || c.name.length > 100) {
      throw new Error(`client "${c.id}" needs a "name" of 1-100 characters`);
    }
    if (c.secret !== undefined && (typeof c.secret !== 'string' || c.secret.length < 16)) {
      throw new Error(`client "${c.id}": "secret" must be a string of at least 16 characters`);
    }
    if (c.description !== undefined && typeof c.description !== 'string') {
      throw new Error(`client "${c.id}": "description" must be a string`);
    }
    if (
      c.scopes !== undefined &&
      (!Array.isArray(c.scopes) || c.scopes.some((s) => typeof s !== 'string'))
    ) {
      throw new Error(`client "${c.id}": "scopes" must be an array of scope strings`);
    }
  }
};

/** Shape only: the audience default (PUBLIC_URL) is filled in by resolve(). */
export const isWorkloadIssuers: Format<unknown> = (value) => {
  parseWorkloadIssuers(value, 'placeholder-audience');
};

export const isWorkloadAlgorithms: Format<string> = (value) => {
  if (typeof value !== 'string') throw new Error('must be a space-separated list of algorithms');
  parseWorkloadAlgorithms(value);
};

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One key of the schema: every key has doc, format, default and env; secrets are `sensitive`. */
export interface Setting {
  doc: string;
  format: Format<never> | readonly string[] | 'port';
  default: unknown;
  env: string;
  sensitive?: boolean;
}
