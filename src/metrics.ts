/**
 * Prometheus metrics, one registry per app instance (no global default registry), so tests
 * can build many apps in one process. Labels carry only bounded enums, never user data.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  flowsStarted: Counter<'kind'>;
  flowsCompleted: Counter<'kind' | 'outcome'>;
  handoffs: Counter<'event'>;
  tokenEndpointErrors: Counter<'error'>;
  webexLatency: Histogram<'endpoint' | 'outcome'>;
  rateLimitRejections: Counter<'limit'>;
  /** Alert on any increase: wrong user codes from everywhere used up the global budget. */
  userCodeGlobalBudgetExhausted: Counter;
  /** Alert on any increase: a record in the store failed its integrity check (see records.ts). */
  storeRecordsRejected: Counter<'role'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  grantsIssued: Counter<'mode'>;
  grantRefreshes: Counter<'outcome'>;
  grantReuseDetections: Counter;
  grantRevocations: Counter<'by'>;
  /** RFC 8693 exchanges of CI ID tokens, by outcome (ok, webex_renewed, or why refused). */
  workloadExchanges: Counter<'outcome'>;
  /** Grants alive in the store, counted at scrape time by the function given here. */
  grantsActive: Gauge;
  countGrantsWith(count: () => Promise<number>): void;
  pollsWaiting: Gauge;
  countWaitingPollsWith(count: () => number): void;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let countGrants: (() => Promise<number>) | undefined;
  let countWaitingPolls: (() => number) | undefined;
  return {
    registry,
    flowsStarted: new Counter({
      name: 'wst_flows_started_total',
      help: 'Webex sign-ins started, by kind (browser: tokens shown; device: script handoff; console: grants console).',
      labelNames: ['kind'],
      registers,
    }),
    flowsCompleted: new Counter({
      name: 'wst_flows_completed_total',
      help: 'Webex sign-ins finished, by kind and outcome.',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    handoffs: new Counter({
      name: 'wst_handoffs_total',
      help: 'Script handoffs by lifecycle event.',
      labelNames: ['event'],
      registers,
    }),
    tokenEndpointErrors: new Counter({
      name: 'wst_token_endpoint_errors_total',
      help: 'Error answers of the token and device authorization endpoints, by RFC error code.',
      labelNames: ['error'],
      registers,
    }),
    webexLatency: new Histogram({
      name: 'wst_webex_request_duration_seconds',
      help: 'Latency of calls to Webex, by endpoint and outcome.',
      labelNames: ['endpoint', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    rateLimitRejections: new Counter({
      name: 'wst_rate_limit_rejections_total',
      help: 'Requests refused by a rate limit, by limit name.',
      labelNames: ['limit'],
      registers,
    }),
    userCodeGlobalBudgetExhausted: new Counter({
      name: 'wst_user_code_global_budget_exhausted_total',
      help: 'Times wrong user-code entries from all sources used up RATE_LIMIT_USER_CODE_GLOBAL_FAILURES; code entry is paused for everyone until the window ends. Alert on any increase.',
      registers,
    }),
    storeRecordsRejected: new Counter({
      name: 'wst_store_records_rejected_total',
      help: 'Records read from the store that failed their integrity check (tampered, copied from another key, or sealed with a key no longer configured), by role; each was treated as absent. Alert on any increase.',
      labelNames: ['role'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'wst_http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers,
    }),
    grantsIssued: new Counter({
      name: 'wst_grants_issued_total',
      help: 'Grants created when a script picked up its tokens, by REFRESH_TOKENS mode.',
      labelNames: ['mode'],
      registers,
    }),
    grantRefreshes: new Counter({
      name: 'wst_grant_refreshes_total',
      help: 'refresh_token requests at the token endpoint, by outcome (ok, webex_renewed, replayed, or why refused).',
      labelNames: ['outcome'],
      registers,
    }),
    grantReuseDetections: new Counter({
      name: 'wst_grant_reuse_detections_total',
      help: 'Rotated-out refresh tokens presented again (each revokes its grant).',
      registers,
    }),
    grantRevocations: new Counter({
      name: 'wst_grant_revocations_total',
      help: 'Grants revoked, by who or what revoked them (client, admin, reuse, webex, cancelled).',
      labelNames: ['by'],
      registers,
    }),
    workloadExchanges: new Counter({
      name: 'wst_workload_exchanges_total',
      help: 'Token exchanges of CI ID tokens (RFC 8693), by outcome (ok, webex_renewed, or why refused: no_binding, replayed, expired, ...).',
      labelNames: ['outcome'],
      registers,
    }),
    grantsActive: new Gauge({
      name: 'wst_grants_active',
      help: 'Grants alive in the store (not revoked, not expired), counted at scrape time.',
      registers,
      async collect() {
        if (!countGrants) return;
        // A store outage must not fail the whole scrape: the gauge keeps its last value.
        const n = await countGrants().catch(() => undefined);
        if (n !== undefined) this.set(n);
      },
    }),
    countGrantsWith(count) {
      countGrants = count;
    },
    pollsWaiting: new Gauge({
      name: 'wst_polls_waiting',
      help: 'Token polls held open on this replica (wait parameter) until their handoff changes.',
      registers,
      collect() {
        if (countWaitingPolls) this.set(countWaitingPolls());
      },
    }),
    countWaitingPollsWith(count) {
      countWaitingPolls = count;
    },
  };
}
