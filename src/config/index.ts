/**
 * The configuration: the only module that reads the environment (callers pass `process.env`
 * in). formats.ts validates single values, schema*.ts names every setting, load.ts reads them,
 * resolve.ts derives the AppConfig the rest of the service receives (app-config.ts).
 */
export {
  ConfigError,
  type AppConfig,
  type DeviceClientConfig,
  type RedisConfig,
  type RedisMode,
} from './app-config';
export { loadConfig } from './load';
export { configEnvNames, configSchema } from './schema';
