/**
 * Reading the configuration: the environment (and CONFIG_FILE) against the schema, then
 * resolve() for the derived values. Callers pass `process.env` in; nothing else reads it.
 */
import fs from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { ConfigError, type AppConfig } from './app-config';
import { resolve } from './resolve';
import type { Setting } from './formats';
import { configSchema, type ConfigValues } from './schema';

export interface LoadConfigOptions {
  /** Directory holding CONFIG_FILE entries; default `<project>/config`. */
  configDir?: string;
}

/**
 * Validate the environment against the schema and resolve derived values.
 * Throws ConfigError with one line naming the env variable and what is expected.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  options: LoadConfigOptions = {},
): AppConfig {
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) cleanEnv[k] = v;
  // Proxy variables are written in either case by convention; the upper-case one wins.
  for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']) {
    const lower = cleanEnv[name.toLowerCase()];
    if (cleanEnv[name] === undefined && lower !== undefined) cleanEnv[name] = lower;
  }

  const conf = convict<ConfigValues>(configSchema, { env: cleanEnv, args: [] });

  const configFile = conf.get('configFile');
  if (configFile) {
    // <project>/config, from src/config/ (tsx, jest) as from dist/config/ (built).
    const dir = options.configDir ?? path.resolve(__dirname, '..', '..', 'config');
    const files = configFile.split(',').map((f) => path.resolve(dir, f.trim()));
    for (const file of files) {
      if (!fs.existsSync(file)) {
        throw new ConfigError(`CONFIG_FILE: ${file} does not exist`);
      }
    }
    try {
      conf.loadFile(files);
    } catch (err) {
      throw new ConfigError(`CONFIG_FILE: could not read it as JSON (${(err as Error).message})`);
    }
  }

  try {
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(describeValidationError((err as Error).message));
  }

  return resolve(conf.getProperties());
}

function describeValidationError(message: string): string {
  const first = message.split('\n')[0] ?? message;
  const match = /^([A-Za-z]+): (.*)$/.exec(first);
  if (!match) return `Invalid configuration: ${first}`;
  const key = match[1] as string;
  const spec = (configSchema as Partial<Record<string, Setting>>)[key];
  if (!spec) return `Invalid configuration file: unknown setting "${key}"`;
  let detail = match[2] ?? '';
  if (spec.sensitive) detail = detail.replace(/: value was .*$/, '');
  return `Invalid configuration: ${spec.env} ${detail}`;
}
