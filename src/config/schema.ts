/**
 * The configuration contract: one convict schema, validated once at startup. Its keys are
 * spread from three parts in the order docs/configuration.md lists them.
 */
import type { Format } from './formats';
import { scriptSettings } from './schema-scripts';
import { storeSettings } from './schema-store';
import { webexSettings } from './schema-webex';

/** The schema. Every key: doc, format, default, env; secrets are `sensitive`. */
export const configSchema = { ...webexSettings, ...storeSettings, ...scriptSettings };

type ConfigKey = keyof typeof configSchema;

/** What a valid value of one setting is, read from its format. */
type SettingValue<S> = S extends { format: readonly (infer Choice)[] }
  ? Choice
  : S extends { format: 'port' }
    ? number
    : S extends { format: Format<infer T> }
      ? T
      : never;

/** The validated settings, as convict holds them (before resolve() derives the AppConfig). */
export type ConfigValues = { [K in ConfigKey]: SettingValue<(typeof configSchema)[K]> };

/** Env variable names the schema knows, e.g. for the Helm chart test. */
export const configEnvNames: readonly string[] = Object.values(configSchema).map((k) => k.env);
