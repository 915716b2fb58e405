/**
 * The simulated Webex for the end-to-end flows, in its own process (as the real Webex would
 * be), reusing the test helper. Reports its URL over IPC.
 */
import { startSandbox } from '../test/helpers/server';

startSandbox().then(
  (sb) => {
    process.send?.({ type: 'listening', url: sb.url });
    process.once('SIGTERM', () => {
      void sb.close().then(() => process.exit(0));
    });
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
