/**
 * Full handoffs end to end over HTTP, the sandbox as Webex, approved as the tests' admin does.
 */
import { approveHandoff, pollToken, requestHandoff } from '../test/helpers/admin';
import { commandDelta, commandStats, fmt, median, percentile, sleep } from './lib';
import type { Ctx, ServiceChild } from './processes';
import { breakdown, sumCommands, type Commands, type Row, type SectionReport } from './report';
import { DURATION, FLOW_CONCURRENCY, REPS, log } from './settings';

export interface FlowRep {
  flows: number;
  seconds: number;
  latencies: number[];
  failures: number;
  commands: Commands;
}

/** One handoff, approved; resolves with the tokens the poll delivered. */
export async function oneFlow(url: string): Promise<Record<string, unknown>> {
  const auth = await requestHandoff(url);
  if (auth.status !== 200)
    throw new Error(`device_authorization answered ${auth.status}: ${JSON.stringify(auth.json)}`);
  const poll = pollToken(url, { device_code: String(auth.json.device_code), wait: '30' });
  const done = await approveHandoff(url, String(auth.json.user_code));
  if (done.status !== 200) throw new Error(`approval page answered ${done.status}`);
  const tokens = await poll;
  if (tokens.status !== 200 || typeof tokens.json.access_token !== 'string')
    throw new Error(`poll answered ${tokens.status}: ${JSON.stringify(tokens.json)}`);
  return tokens.json;
}

export async function flowSection(ctx: Ctx, svc: ServiceChild): Promise<FlowRep[]> {
  // Warm-up: 2 s of flows at full concurrency (the JIT of the service and of the sandbox).
  const warmUntil = performance.now() + 2000;
  await Promise.all(
    Array.from({ length: FLOW_CONCURRENCY }, async () => {
      while (performance.now() < warmUntil) await oneFlow(svc.url);
    }),
  );
  const reps: FlowRep[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    await sleep(300);
    const c0 = await commandStats(ctx.admin);
    const latencies: number[] = [];
    let failures = 0;
    let firstError = '';
    const started = performance.now();
    const deadline = started + DURATION * 1000;
    const worker = async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          await oneFlow(svc.url);
          latencies.push(performance.now() - t);
        } catch (err) {
          failures++;
          firstError ||= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: FLOW_CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;
    await sleep(200);
    const c1 = await commandStats(ctx.admin);
    const r: FlowRep = {
      flows: latencies.length,
      seconds,
      latencies,
      failures,
      commands: commandDelta(c0, c1),
    };
    reps.push(r);
    log(
      `  rep ${rep}: ${fmt(r.flows / seconds, 1)} handoffs/s (${r.flows} in ${fmt(seconds, 1)} s, ${FLOW_CONCURRENCY} concurrent), p50 ${fmt(percentile(latencies, 50), 1)} ms/flow,` +
        ` ${fmt(r.commands.total / Math.max(1, r.flows), 1)} Redis commands/flow${failures ? `, ${failures} FAILED (${firstError})` : ''}`,
    );
  }
  return reps;
}

export function flowReport(f: FlowRep[]): SectionReport {
  const rows: Row[] = [];
  const details: string[] = [];
  const failures = f.reduce((a, r) => a + r.failures, 0);
  const rate = median(f.map((r) => r.flows / r.seconds));
  rows.push({
    what: `Full handoffs end to end (sandbox as Webex, ${FLOW_CONCURRENCY} concurrent)`,
    target: '≥ 200 /s',
    measured: `${fmt(rate, 1)} handoffs/s, p50 ${fmt(median(f.map((r) => percentile(r.latencies, 50))), 0)} ms per handoff${failures ? `, ${failures} FAILED` : ''}`,
    pass: failures === 0 && rate >= 200,
  });
  const n = f.reduce((a, r) => a + r.flows, 0);
  const cmds = sumCommands(f.map((r) => r.commands));
  rows.push({
    what: 'Redis commands per full handoff (inner script calls included)',
    target: '—',
    measured: `${fmt(f.reduce((a, r) => a + r.commands.total, 0) / n, 1)} (${breakdown(cmds, n)})`,
    pass: null,
  });
  return { rows, details };
}
