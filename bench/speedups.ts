/**
 * The hand-written speedups, re-justified (issue 20: each stays only while the bench shows it
 * still pays). Pending polls, as in polling.ts, against three service processes interleaved in
 * every run: the service as built; the same build with the Redis store's socket write batching
 * off (`plain-writes`: each command leaves in its own write, as ioredis sends it); and with
 * form bodies read by co-body instead of src/middleware/form-body.ts (`co-body`). The two
 * variants are started by bench/variant-main.cjs with the service's own overrides, so nothing
 * else differs. Throughput and CPU per answered poll are printed side by side.
 */
import { fmt, median, sleep } from './lib';
import { measureService, type ServiceRun } from './polling';
import { createHandoffs, type Ctx, type ServiceChild } from './processes';
import type { Row, SectionReport } from './report';
import { DEVICE_GRANT, POLL_CODES, REPS, log } from './settings';

export const SPEEDUP_CONNECTIONS = [1, 100] as const;

type Variant = 'as built' | 'plain-writes' | 'co-body';

export interface SpeedupPoint {
  connections: number;
  rep: number;
  runs: Record<Variant, ServiceRun>;
}

export interface SpeedupServices {
  built: ServiceChild;
  plainWrites: ServiceChild;
  coBody: ServiceChild;
}

export async function speedupsSection(ctx: Ctx, svcs: SpeedupServices): Promise<SpeedupPoint[]> {
  log(`  creating ${POLL_CODES} pending handoffs`);
  const handoffs = await createHandoffs(ctx.deps, POLL_CODES);
  const bodies = handoffs.map(
    (x) =>
      `grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=cli&device_code=${x.deviceCode}`,
  );
  let cursor = 0;
  // One rotation across all three services: the slow_down gate is in Redis, shared by them.
  const nextBody = () => bodies[cursor++ % bodies.length]!;
  const order: [Variant, ServiceChild][] = [
    ['as built', svcs.built],
    ['plain-writes', svcs.plainWrites],
    ['co-body', svcs.coBody],
  ];
  for (const [, svc] of order) await measureService(ctx, svc, 100, nextBody); // warm-up
  const points: SpeedupPoint[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    for (const connections of SPEEDUP_CONNECTIONS) {
      const runs = {} as Record<Variant, ServiceRun>;
      // A different variant goes first in each run, so none always meets a colder machine.
      for (let i = 0; i < order.length; i++) {
        const [variant, svc] = order[(i + rep) % order.length]!;
        runs[variant] = await measureService(ctx, svc, connections, nextBody);
        await sleep(200);
      }
      points.push({ connections, rep, runs });
      const show = (v: Variant) =>
        `${v} ${fmt(runs[v].load.rps)}/s ${fmt(runs[v].cpuUs)} µs${runs[v].otherErrors ? ` (${runs[v].otherErrors} not pending)` : ''}`;
      log(
        `  rep ${rep}, ${connections} conn: ${show('as built')}; ${show('plain-writes')}; ${show('co-body')}`,
      );
    }
  }
  return points;
}

function compare(points: SpeedupPoint[], variant: Variant, connections: number) {
  const at = points.filter((p) => p.connections === connections);
  const med = (v: Variant, f: (r: ServiceRun) => number) => median(at.map((p) => f(p.runs[v])));
  return {
    rps: med('as built', (r) => r.load.rps),
    otherRps: med(variant, (r) => r.load.rps),
    cpu: med('as built', (r) => r.cpuUs),
    otherCpu: med(variant, (r) => r.cpuUs),
  };
}

function row(points: SpeedupPoint[], variant: Variant, what: string): Row {
  const parts = SPEEDUP_CONNECTIONS.map((c) => {
    const x = compare(points, variant, c);
    return `${c} conn: ${fmt(x.rps)} vs ${fmt(x.otherRps)} req/s, ${fmt(x.cpu)} vs ${fmt(x.otherCpu)} µs CPU/poll (${fmt((100 * (x.cpu - x.otherCpu)) / x.otherCpu, 1)} %)`;
  });
  const at100 = compare(points, variant, 100);
  return {
    what: `${what}: pending polls as built vs without it`,
    target: 'less CPU per poll at 100 connections',
    measured: parts.join('; '),
    pass: at100.cpu < at100.otherCpu,
  };
}

export function speedupsReport(points: SpeedupPoint[]): SectionReport {
  return {
    rows: [
      row(points, 'plain-writes', 'Socket write batching (src/store/redis.ts)'),
      row(points, 'co-body', 'Hand-written form reader (src/middleware/form-body.ts) vs co-body'),
    ],
    details: [],
  };
}
