/** Load generation (autocannon, in this process) and the service's token-endpoint counters. */
import autocannon from 'autocannon';
import { counterValue, fetchText } from './lib';

export interface CannonResult {
  rps: number;
  p50: number;
  p99: number;
  completed: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
}

export async function cannon(opts: {
  url: string;
  connections: number;
  duration: number;
  method?: 'GET' | 'POST';
  path: string;
  body?: () => string;
  /** Request headers (e.g. a browser's Accept-Encoding). */
  headers?: Record<string, string>;
}): Promise<CannonResult> {
  const headers: Record<string, string> = {
    ...(opts.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    ...opts.headers,
  };
  const bodyFn = opts.body;
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.duration,
    requests: [
      {
        method: opts.method ?? 'GET',
        path: opts.path,
        headers,
        ...(bodyFn
          ? {
              setupRequest: (req: autocannon.Request) => {
                req.body = bodyFn();
                return req;
              },
            }
          : {}),
      },
    ],
  });
  const r = result as unknown as {
    duration: number;
    latency: { p50: number; p99: number; totalCount: number };
    errors: number;
    timeouts: number;
    statusCodeStats: Record<string, { count: number }>;
  };
  const statuses: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statuses[code] = s.count;
  return {
    rps: r.latency.totalCount / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    completed: r.latency.totalCount,
    errors: r.errors,
    timeouts: r.timeouts,
    statuses,
  };
}

const tokenMetric = 'wst_token_endpoint_errors_total';

/** Token endpoint counters, from the service's METRICS_PORT (never on its public port). */
export async function tokenCounters(svc: {
  env: NodeJS.ProcessEnv;
}): Promise<{ pending: number; slowDown: number; all: number }> {
  const text = await fetchText(`http://127.0.0.1:${svc.env.METRICS_PORT}/metrics`);
  return {
    pending: counterValue(text, tokenMetric, 'error="authorization_pending"'),
    slowDown: counterValue(text, tokenMetric, 'error="slow_down"'),
    all: counterValue(text, tokenMetric),
  };
}
