import type { AppConfig } from '../config';
import type { Sealer } from '../crypto';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Store } from '../store/store';
import type { WebexClient } from '../webex/client';
import type { WorkloadVerifier } from '../workload/verify';
import type { RateLimiter } from './rate-limit';

/** Everything the flows need, passed in explicitly. */
export interface FlowDeps {
  config: AppConfig;
  store: Store;
  sealer: Sealer;
  webex: WebexClient;
  logger: Logger;
  metrics: Metrics;
  limiter: RateLimiter;
  /** Verifies CI jobs' OIDC ID tokens; `enabled` is false when WORKLOAD_ISSUERS is empty. */
  workload: WorkloadVerifier;
  now: () => number;
}
