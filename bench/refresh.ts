/**
 * Refreshes of managed grants (wst_rt_…, rotated at each use): with Webex's access token still
 * young (answered from the grant, no call to Webex) at 100 connections, read against the
 * pending poll of the same run; and with `fresh_access_token=true` (a call to the sandbox on
 * loopback each time) at one connection, read against the sandbox's own token endpoint.
 */
import autocannon from 'autocannon';
import { oneFlow } from './flow';
import { fmt, median } from './lib';
import type { ServiceChild } from './processes';
import type { Row, SectionReport } from './report';
import { DURATION, REPS, log } from './settings';

export interface RefreshRep {
  cached: { rps: number; p50: number; p99: number; failures: number };
  withWebex: { p50: number; failures: number };
  webexP50: number;
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  failures: number;
}

/**
 * Every request takes a grant's current refresh token from a pool and its answer puts the
 * rotated one back, as a script would carry it into its next refresh. With as many grants as
 * connections, no two requests ever hold the same grant. (autocannon gives each request a
 * fresh context, so the pool, not the context, carries tokens from one request to the next.)
 */
async function refreshLoad(
  url: string,
  tokens: string[],
  connections: number,
  fresh: boolean,
): Promise<Load> {
  const pool = [...tokens];
  let failures = 0;
  const result = await autocannon({
    url,
    connections,
    duration: Math.min(DURATION, 4),
    requests: [
      {
        method: 'POST',
        path: '/oauth2/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (req, context: object) => {
          const token = pool.pop() ?? 'wst_rt_pool-empty';
          (context as { token?: string }).token = token;
          req.body = new URLSearchParams({
            grant_type: 'refresh_token',
            client_id: 'cli',
            refresh_token: token,
            ...(fresh ? { fresh_access_token: 'true' } : {}),
          }).toString();
          return req;
        },
        onResponse: (status, body, context: object) => {
          if (status === 200) {
            pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
            return;
          }
          if (failures++ === 0) log(`  first refused refresh: ${status} ${body.slice(0, 200)}`);
          // Refused before rotation (rate limit, store timeout): the token is still good.
          const { token } = context as { token?: string };
          if (status !== 400 && token) pool.push(token);
        },
      },
    ],
  });
  const r = result as unknown as {
    duration: number;
    latency: { p50: number; p99: number; totalCount: number };
  };
  return {
    rps: r.latency.totalCount / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    failures,
  };
}

/** The sandbox's token endpoint answering a refresh_token request (unknown token: its floor). */
async function webexLatency(sandboxUrl: string): Promise<number> {
  const result = await autocannon({
    url: sandboxUrl,
    connections: 1,
    duration: Math.min(DURATION, 2),
    requests: [
      {
        method: 'POST',
        path: '/v1/access_token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=refresh_token&client_id=x&client_secret=y&refresh_token=unknown',
      },
    ],
  });
  return result.latency.p50;
}

/** `n` managed grants (their refresh tokens), through full handoffs, 8 at a time. */
async function grants(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  let failures = 0;
  await Promise.all(
    Array.from({ length: Math.min(8, n) }, async () => {
      while (out.length < n) {
        try {
          out.push(String((await oneFlow(url)).refresh_token));
        } catch (err) {
          // A loaded machine sometimes times a store call out; a few retries are fine.
          if (++failures > 20) throw err;
        }
      }
    }),
  );
  return out.slice(0, n);
}

export async function refreshSection(
  svc: ServiceChild,
  sandboxUrl: string,
  connections = 100,
): Promise<RefreshRep[]> {
  log(`  creating ${connections} managed grants through full handoffs`);
  const initial = await grants(svc.url, connections);
  const reps: RefreshRep[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    // A load ends with requests in flight, whose rotated tokens it never read: the grants of
    // one load are not used again (that would be reuse, and revoke them), so each load gets
    // grants of its own.
    const cached = await refreshLoad(svc.url, initial.splice(0, connections), connections, false);
    const withWebex = await refreshLoad(svc.url, await grants(svc.url, 1), 1, true);
    const webexP50 = await webexLatency(sandboxUrl);
    if (rep < REPS) initial.push(...(await grants(svc.url, connections)));
    reps.push({ cached, withWebex, webexP50 });
    log(
      `  rep ${rep}: refresh (Webex token cached) ${fmt(cached.rps)}/s p50 ${cached.p50} ms${cached.failures ? `, ${cached.failures} FAILED` : ''};` +
        ` with a Webex call p50 ${withWebex.p50} ms (sandbox alone ${webexP50} ms)${withWebex.failures ? `, ${withWebex.failures} FAILED` : ''}`,
    );
  }
  return reps;
}

export function refreshReport(
  reps: RefreshRep[],
  pendingPollRps: number | undefined,
): SectionReport {
  return grantPathReport(
    {
      cached: 'Refresh of a managed grant, Webex token cached, 100 connections, vs pending poll',
      withWebex:
        'Refresh with a call to Webex (sandbox on loopback), 1 connection: p50 over Webex p50',
    },
    reps,
    pendingPollRps,
  );
}

/**
 * The two rows of a grant path (refresh, token exchange): with Webex's answer cached against the
 * pending poll (≥ 50 %), and with a call to Webex against the sandbox alone (< 5 ms over it).
 */
export function grantPathReport(
  what: { cached: string; withWebex: string },
  reps: RefreshRep[],
  pendingPollRps: number | undefined,
): SectionReport {
  const rows: Row[] = [];
  const rps = median(reps.map((r) => r.cached.rps));
  const failures = reps.reduce((a, r) => a + r.cached.failures + r.withWebex.failures, 0);
  const ratio = pendingPollRps ? rps / pendingPollRps : Number.NaN;
  rows.push({
    what: what.cached,
    target: '≥ 50 % of pending poll',
    measured: pendingPollRps
      ? `${fmt(100 * ratio)} % (${fmt(rps)} vs ${fmt(pendingPollRps)} req/s; p99 ${fmt(median(reps.map((r) => r.cached.p99)), 1)} ms)${failures ? `, ${failures} FAILED` : ''}`
      : `${fmt(rps)} req/s (pending poll not measured in this run)`,
    pass: pendingPollRps ? ratio >= 0.5 && failures === 0 : null,
  });
  const extra = median(reps.map((r) => r.withWebex.p50 - r.webexP50));
  rows.push({
    what: what.withWebex,
    target: '< 5 ms',
    measured: `+${fmt(extra, 1)} ms (${fmt(median(reps.map((r) => r.withWebex.p50)), 1)} ms vs the sandbox's token endpoint alone ${fmt(median(reps.map((r) => r.webexP50)), 1)} ms)`,
    pass: extra < 5 && failures === 0,
  });
  return { rows, details: [] };
}
