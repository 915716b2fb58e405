/**
 * The only entry point: the process around the service (src/service.ts builds and starts it).
 * SIGTERM and SIGINT run the graceful stop and exit 0; a configuration error exits 2 with its
 * message, any other startup failure 1.
 */
import { ConfigError } from './config';
import { startService } from './service';

export { startService, type RunningService } from './service';

if (require.main === module) {
  startService(process.env)
    .then((service) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          service.shutdown().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        });
      }
    })
    .catch((err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`Failed to start: ${(err as Error).message}\n`);
      process.exit(1);
    });
}
