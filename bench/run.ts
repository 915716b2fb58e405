/**
 * `npm run bench`: what the service costs per admin and per polling script (issue 8).
 *
 * One run measures, side by side: pending polls against a bare Koa + Redis GET baseline
 * (polling.ts), 1,000 waiting polls (wait.ts), page rendering (pages.ts), complete handoffs
 * through the sandbox (flow.ts), refreshes of managed grants (refresh.ts), token exchanges of
 * CI ID tokens (exchange.ts), the hand-written speedups against their plain alternatives
 * (speedups.ts), cold start and RSS (cold-start.ts), and Redis commands per poll and per flow. It prints a table and rewrites the results section of
 * docs/BENCHMARKS.md (report.ts).
 *
 * Everything runs on loopback. The service is the production build (build.ts) started as its
 * own process; the baseline and the simulated Webex are separate processes too, so the load
 * generator (this process) never shares an event loop with what it measures (processes.ts).
 * Redis is a redis-server the bench starts for itself (so INFO commandstats sees only bench
 * traffic); all keys live under a prefix unique to the run and are deleted at the end.
 *
 * Knobs (env, settings.ts): BENCH_DURATION (s per load point, default 5), BENCH_REPS
 * (default 3), BENCH_POLL_CODES (device codes rotated by the polling load and the speedups A/B,
 * default 30000), BENCH_EXCHANGE_TOKENS (ID tokens per cached exchange run, default 1000 × duration),
 * BENCH_ONLY (comma list of sections: start,poll,pages,wait,flow,refresh,exchange,speedups, and topology, which is not
 * run by default: standalone next to a 3-master cluster, topology.ts), BENCH_COMPARE (a git
 * revision measured next to this tree in the polling section), BENCH_CPU_PROF=1 (write V8 CPU
 * profiles of the service, the baseline and the sandbox under
 * node_modules/.cache/wst-bench/prof), BENCH_NO_DOC=1 (do not touch docs/BENCHMARKS.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Service } from '../src/service';
import { buildRevision, build, type BuildResult } from './build';
import { coldStartReport, coldStartSection, type StartRep } from './cold-start';
import { flowReport, flowSection, oneFlow, type FlowRep } from './flow';
import {
  exchangeReport,
  exchangeSection,
  startBenchIssuer,
  workloadEnv,
  type ExchangeRep,
} from './exchange';
import { cannon } from './load';
import { deletePrefix, fmt, median, sleep, type Child } from './lib';
import { rssBytes } from './proc';
import { speedupsReport, speedupsSection, type SpeedupPoint } from './speedups';
import { pagesReport, pagesSection, type PagesResult } from './pages';
import { pollingReport, pollingSection, type PollingResult } from './polling';
import { refreshReport, refreshSection, type RefreshRep } from './refresh';
import {
  createHandoffs,
  memOf,
  provideRedis,
  serviceEnv,
  startBaseline,
  startHelper,
  startReplica,
  startServiceChild,
  type BenchRedis,
  type Ctx,
  type ServiceChild,
} from './processes';
import { machine, report, writeDoc, type SectionReport } from './report';
import {
  COLD_STARTS,
  COMPARE,
  DURATION,
  FLOW_CONCURRENCY,
  ONLY,
  POLL_CODES,
  POLL_INTERVAL_SECONDS,
  PREFIX,
  REPS,
  ROOT,
  WAITERS,
  WORK,
  log,
} from './settings';
import { topologySection, writeTopologyDoc } from './topology';
import { waitReport, waitSection, type WaitRep } from './wait';

interface Results {
  build: BuildResult;
  starts?: StartRep[];
  poll?: PollingResult;
  pages?: PagesResult;
  waits?: WaitRep[];
  flows?: FlowRep[];
  refreshes?: RefreshRep[];
  exchanges?: ExchangeRep[];
  speedups?: SpeedupPoint[];
}

/** The pending-poll rate at 100 connections in this run (what refreshes are read against). */
function pollRateAt100(res: Results): number | undefined {
  const at100 = res.poll?.points.filter((p) => p.connections === 100) ?? [];
  return at100.length ? median(at100.map((p) => p.service.load.rps)) : undefined;
}

/** Every section that ran, in the order of the report. */
function sections(res: Results): SectionReport[] {
  return [
    res.poll && pollingReport(res.poll),
    res.waits && waitReport(res.waits),
    res.pages && pagesReport(res.pages),
    res.flows && flowReport(res.flows),
    res.refreshes && refreshReport(res.refreshes, pollRateAt100(res)),
    res.exchanges && exchangeReport(res.exchanges, pollRateAt100(res)),
    res.speedups && speedupsReport(res.speedups),
    res.starts && coldStartReport(res.starts),
  ].filter((s): s is SectionReport => s !== undefined);
}

function header(res: Results, machineText: string, redis: BenchRedis, seconds: number): string[] {
  return [
    `Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fmt(seconds)} s in total.`,
    '',
    `Machine: ${machineText}.`,
    `Redis: ${redis.dedicated ? 'a redis-server started by the bench (no persistence), used by nothing else' : 'REDIS_URL (shared: command counts may include other traffic)'}.`,
    `Settings: ${REPS} runs of ${DURATION} s per load point, medians reported; DEVICE_POLL_INTERVAL_SECONDS=${POLL_INTERVAL_SECONDS}; ${fmt(POLL_CODES)} device codes rotated; LOG_LEVEL=info to /dev/null; build: ${res.build.note}.`,
  ];
}

/** The sections, each against service processes of its own (poll and pages share one). */
async function measure(ctx: Ctx, results: Results, children: Child[]): Promise<void> {
  const start = async (label: string, dist?: string) => {
    const svc = await startServiceChild(ctx.redisUrl, ctx.sandboxUrl, label, dist ? { dist } : {});
    children.push(svc.child);
    return svc;
  };
  if (ONLY.has('start')) {
    log(`cold start: ${COLD_STARTS} × the image's CMD (NODE_ENV=production, Redis store)`);
    results.starts = await coldStartSection(ctx);
  }
  if (ONLY.has('poll') || ONLY.has('pages')) {
    const baseline = await startBaseline(ctx.admin, ctx.redisUrl);
    children.push(baseline.child);
    const svc = await start('poll');
    let before: ServiceChild | undefined;
    if (COMPARE && ONLY.has('poll')) {
      log(`building ${COMPARE} for the before/after comparison`);
      before = await start('before', buildRevision(COMPARE));
    }
    await sleep(500);
    const idleRss = rssBytes(svc.child.pid);
    if (ONLY.has('poll')) {
      log(`polling: ${REPS} × {1, 100, 1000} connections × ${DURATION} s, baseline then service`);
      const polling = await pollingSection(ctx, svc, baseline, before);
      await sleep(1000);
      results.poll = { ...polling, idleRss, rssAfterGc: (await memOf(svc)).rss };
    }
    if (ONLY.has('pages')) {
      log('pages: render() in this process, GET / over HTTP');
      results.pages = await pagesSection(ctx, svc);
    }
    await svc.child.stop();
    await before?.child.stop();
    await baseline.child.stop();
  }
  if (ONLY.has('wait')) {
    log(
      `waiting polls: ${WAITERS} × wait=30, a fresh service process per run; ${REPS} × (one-at-a-time, all-at-once) approvals`,
    );
    results.waits = await waitSection(ctx, () => start('wait'));
  }
  if (ONLY.has('flow')) {
    log(
      `full handoffs: ${REPS} × ${DURATION} s, ${FLOW_CONCURRENCY} concurrent flows over HTTP with the sandbox`,
    );
    const svc = await start('flow');
    results.flows = await flowSection(ctx, svc);
    await svc.child.stop();
  }
  if (ONLY.has('refresh')) {
    log(
      `refreshes of managed grants: ${REPS} × (100 connections cached, 1 connection with a Webex call)`,
    );
    const svc = await start('refresh');
    results.refreshes = await refreshSection(svc, ctx.sandboxUrl);
    await svc.child.stop();
  }
  if (ONLY.has('exchange')) {
    log(
      `token exchanges (CI ID tokens, a loopback OIDC issuer): ${REPS} × (100 connections cached, 1 connection with a Webex call)`,
    );
    const issuer = await startBenchIssuer();
    try {
      const svc = await startServiceChild(ctx.redisUrl, ctx.sandboxUrl, 'exchange', {
        env: workloadEnv(issuer),
      });
      children.push(svc.child);
      results.exchanges = await exchangeSection(ctx, svc, issuer);
      await svc.child.stop();
    } finally {
      await issuer.close();
    }
  }
  if (ONLY.has('speedups')) {
    log(
      `hand-written speedups: ${REPS} × {1, 100} connections × (as built, plain writes, co-body) × ${DURATION} s of pending polls`,
    );
    const variant = async (v: 'plain-writes' | 'co-body') => {
      const svc = await startServiceChild(ctx.redisUrl, ctx.sandboxUrl, v, { variant: v });
      children.push(svc.child);
      return svc;
    };
    const svcs = {
      built: await start('speedups'),
      plainWrites: await variant('plain-writes'),
      coBody: await variant('co-body'),
    };
    results.speedups = await speedupsSection(ctx, svcs);
    for (const svc of Object.values(svcs)) await svc.child.stop();
  }
  if (ONLY.has('topology')) {
    log('Redis topologies: standalone next to a 3-master cluster, with and without WAIT');
    const markdown = await topologySection({
      standaloneUrl: ctx.redisUrl,
      duration: DURATION,
      log,
      startService: async (url, label, env) => {
        const svc = await startServiceChild(url, ctx.sandboxUrl, label, { env });
        children.push(svc.child);
        return svc;
      },
      createPending: async (env, n) => {
        const other = await startReplica(env);
        const made = await createHandoffs(other.flow, n);
        await other.close();
        return made.map((x) => x.deviceCode);
      },
      cannon,
      oneFlow,
    });
    console.log(`\n${markdown}\n`);
    if (!process.env.BENCH_NO_DOC) writeTopologyDoc(ROOT, markdown);
  }
}

async function main(): Promise<void> {
  const began = performance.now();
  // Child processes are unref'd; keep this process alive until the report is written.
  const keepAlive = setInterval(() => undefined, 1000);
  fs.mkdirSync(WORK, { recursive: true });
  log('building the service (tsc into node_modules/.cache/wst-bench/dist)');
  const results: Results = { build: build() };
  log(`  ${results.build.note}, ${fmt(results.build.ms)} ms`);

  const redis = await provideRedis();
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 2 });
  const info = await admin.info('server');
  const machineText = machine(/redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown');
  log(
    `machine: ${machineText}; redis ${redis.url}${redis.dedicated ? ' (dedicated)' : ''}; prefix ${PREFIX}`,
  );

  const children: Child[] = [];
  let replica: Service | undefined;
  try {
    const sandbox = await startHelper('sandbox.ts', {});
    children.push(sandbox.child);
    replica = await startReplica(serviceEnv(1, redis.url, sandbox.url, 2));
    const ctx: Ctx = {
      admin,
      redisPid: Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0),
      otherPids: [sandbox.child.pid],
      redisUrl: redis.url,
      sandboxUrl: sandbox.url,
      deps: replica.flow,
    };
    await measure(ctx, results, children);
  } finally {
    for (const c of children) await c.stop(2000);
    await replica?.close();
    const removed = await deletePrefix(admin, PREFIX).catch(() => 0);
    log(`cleaned ${removed} keys under ${PREFIX}`);
    admin.disconnect();
    await redis.server?.stop();
  }

  if (ONLY.size === 1 && ONLY.has('topology')) {
    // Only the topology block was measured: leave the main results as they are.
    clearInterval(keepAlive);
    return;
  }
  const seconds = (performance.now() - began) / 1000;
  const { rows, markdown } = report(
    header(results, machineText, redis, seconds),
    sections(results),
  );
  fs.writeFileSync(
    path.join(WORK, `results-${Date.now()}.json`),
    JSON.stringify({ ...results, machine: machineText }, null, 1),
  );
  console.log(`\n${markdown}\n`);
  if (!process.env.BENCH_NO_DOC) {
    writeDoc(markdown);
    log('wrote docs/BENCHMARKS.md');
  }
  clearInterval(keepAlive);
  const missed = rows.filter((r) => r.pass === false);
  log(
    missed.length
      ? `${missed.length} target(s) missed: ${missed.map((r) => r.what).join('; ')}`
      : 'all targets met',
  );
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
