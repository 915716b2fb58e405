/**
 * Token exchange (RFC 8693, workload identity): a CI job trades a fresh OIDC ID token for its
 * grant's Webex access token. A loopback OIDC issuer (the tests' one, in this process: the
 * service fetches its discovery and JWKS once and caches them) is the service's only
 * WORKLOAD_ISSUERS entry; grants come from full handoffs and are bound to one job each, as
 * the console does. Every request carries an ID token of its own (a jti is single-use), all
 * signed before the measured window so the load generator spends nothing on signing.
 *
 * Two figures, as for refreshes: with Webex's access token still young (answered from the
 * grant) at 100 connections, read against the pending poll of the same run; and with a call
 * to Webex each time (the grant's access token marked due before every request) at one
 * connection, read against the sandbox's token endpoint alone, timed by the same client.
 */
import http from 'node:http';
import autocannon from 'autocannon';
import { setGrantBinding } from '../src/flows/grants';
import { GrantRepository } from '../src/flows/grants/repository';
import { startTestIssuer, type TestIssuer } from '../test/helpers/oidc-issuer';
import { oneFlow } from './flow';
import { fmt, percentile } from './lib';
import type { Ctx, ServiceChild } from './processes';
import { grantPathReport, type RefreshRep } from './refresh';
import type { SectionReport } from './report';
import { DURATION, EXCHANGE_TOKENS, REPS, log } from './settings';

export const EXCHANGE_AUDIENCE = 'https://wst-bench.example.test';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
/** Exchanges timed one at a time with a Webex call each. */
const WEBEX_SAMPLES = 40 * Math.max(1, DURATION);

/** One rep's figures: the same shape as a refresh rep, reported by the same rows. */
export type ExchangeRep = RefreshRep;

/** The issuer the bench's exchange service trusts (WORKLOAD_ISSUERS), on loopback. */
export function startBenchIssuer(): Promise<TestIssuer> {
  return startTestIssuer({ audience: EXCHANGE_AUDIENCE });
}

export function workloadEnv(issuer: TestIssuer): NodeJS.ProcessEnv {
  return {
    WORKLOAD_ISSUERS: JSON.stringify([
      { name: 'bench', issuer: issuer.url, audience: EXCHANGE_AUDIENCE },
    ]),
  };
}

const subjectOf = (i: number) => `repo:wst-bench/job-${i}:ref:refs/heads/main`;

function exchangeBody(token: string): string {
  return new URLSearchParams({
    grant_type: EXCHANGE,
    client_id: 'cli',
    subject_token: token,
    subject_token_type: JWT,
  }).toString();
}

/** `n` grants through full handoffs, grant i bound to job i; returns their ids. */
async function boundGrants(ctx: Ctx, url: string, issuer: TestIssuer, n: number) {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 8) {
    const batch = await Promise.all(Array.from({ length: Math.min(8, n - i) }, () => oneFlow(url)));
    for (const tokens of batch) {
      ids.push(String((tokens.webex_scoped_tokens as { grant_id: string }).grant_id));
    }
  }
  await Promise.all(
    ids.map(async (id, i) => {
      const bound = await setGrantBinding(ctx.deps, id, {
        issuer: issuer.url,
        audience: EXCHANGE_AUDIENCE,
        sub: subjectOf(i),
        width: 'subject',
      });
      if (!bound) throw new Error(`grant ${id} could not be bound`);
    }),
  );
  return ids;
}

/**
 * `total` exchanges at `connections`, each with an ID token of its own. Jobs go round in a
 * FIFO queue (a job is back in it once its answer is in), so no two requests in flight hold
 * the same grant, and each job's tokens are used in order.
 */
async function cachedLoad(url: string, issuer: TestIssuer, jobs: number, perJob: number) {
  const tokens: string[][] = [];
  for (let i = 0; i < jobs; i++) {
    const mine: string[] = [];
    for (let k = 0; k < perJob + 2; k++)
      mine.push(await issuer.mintGithub({ subject: subjectOf(i) }));
    tokens.push(mine);
  }
  const queue = Array.from({ length: jobs }, (_, i) => i);
  let failures = 0;
  const result = await autocannon({
    url,
    connections: jobs,
    amount: jobs * perJob,
    requests: [
      {
        method: 'POST',
        path: '/oauth2/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (req, context: object) => {
          const job = queue.shift() ?? 0;
          (context as { job?: number }).job = job;
          req.body = exchangeBody(tokens[job]!.shift() ?? 'no-token-left');
          return req;
        },
        onResponse: (status, body, context: object) => {
          if (status !== 200 && failures++ === 0)
            log(`  first refused exchange: ${status} ${body.slice(0, 200)}`);
          queue.push((context as { job?: number }).job ?? 0);
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

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One POST on the shared keep-alive socket; resolves with the status and ms taken. */
function timedPost(url: string, body: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * One connection, one grant: before each exchange (untimed) the grant's Webex access token is
 * made due for renewal, so the exchange calls the sandbox's token endpoint; then the sandbox's
 * endpoint alone, timed the same way (a refresh_token request for an unknown token: its floor).
 */
async function webexLoad(
  ctx: Ctx,
  url: string,
  sandboxUrl: string,
  issuer: TestIssuer,
  id: string,
  job: number,
) {
  const repo = new GrantRepository(ctx.deps);
  const tokens: string[] = [];
  for (let k = 0; k < WEBEX_SAMPLES; k++)
    tokens.push(await issuer.mintGithub({ subject: subjectOf(job) }));
  const exchanges: number[] = [];
  const alone: number[] = [];
  let failures = 0;
  for (const token of tokens) {
    await repo.update(id, (g) =>
      g.webex ? { ...g, webex: { ...g.webex, accessTokenIssuedAt: 0 } } : null,
    );
    const x = await timedPost(`${url}/oauth2/token`, exchangeBody(token));
    if (x.status === 200) exchanges.push(x.ms);
    else failures++;
    const w = await timedPost(
      `${sandboxUrl}/v1/access_token`,
      'grant_type=refresh_token&client_id=x&client_secret=y&refresh_token=unknown',
    );
    alone.push(w.ms);
  }
  return { p50: percentile(exchanges, 50), failures, webexP50: percentile(alone, 50) };
}

export async function exchangeSection(
  ctx: Ctx,
  svc: ServiceChild,
  issuer: TestIssuer,
  connections = 100,
): Promise<ExchangeRep[]> {
  log(`  creating ${connections + 1} grants through full handoffs, each bound to a CI job`);
  const ids = await boundGrants(ctx, svc.url, issuer, connections + 1);
  const perJob = Math.ceil(EXCHANGE_TOKENS / connections);
  const reps: ExchangeRep[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    const cached = await cachedLoad(svc.url, issuer, connections, perJob);
    const w = await webexLoad(ctx, svc.url, ctx.sandboxUrl, issuer, ids[connections]!, connections);
    reps.push({ cached, withWebex: { p50: w.p50, failures: w.failures }, webexP50: w.webexP50 });
    log(
      `  rep ${rep}: exchange (Webex token cached) ${fmt(cached.rps)}/s p50 ${cached.p50} ms (${connections * perJob} ID tokens)${cached.failures ? `, ${cached.failures} FAILED` : ''};` +
        ` with a Webex call p50 ${fmt(w.p50, 2)} ms (sandbox alone ${fmt(w.webexP50, 2)} ms)${w.failures ? `, ${w.failures} FAILED` : ''}`,
    );
  }
  return reps;
}

export function exchangeReport(
  reps: ExchangeRep[],
  pendingPollRps: number | undefined,
): SectionReport {
  return grantPathReport(
    {
      cached: 'Token exchange (CI ID token), Webex token cached, 100 connections, vs pending poll',
      withWebex:
        'Token exchange with a call to Webex (sandbox on loopback), 1 connection: p50 over Webex p50',
    },
    reps,
    pendingPollRps,
  );
}
