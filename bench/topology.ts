/**
 * `BENCH_ONLY=topology npm run bench` (issue 18): the same service against a standalone Redis
 * and against a 3-master Redis Cluster (3 replicas, started on loopback like the topology
 * tests), with and without WAIT for durable writes. Measures pending polls at 100 connections,
 * full handoffs over HTTP, and the cost of one durable write in-process. Writes its own block
 * of docs/BENCHMARKS.md, so the main report is untouched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisStore } from '../src/store/redis';
import { TestCluster } from '../test/topologies/servers';
import { fmt, median, percentile, type Child } from './lib';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const START = '<!-- bench:topology:start -->';
const END = '<!-- bench:topology:end -->';

interface Setup {
  label: string;
  env: NodeJS.ProcessEnv;
  url: string;
}

interface Row {
  label: string;
  pollRps: number;
  pollP50: number;
  pollP99: number;
  pollOther: number;
  flowsPerSec: number;
  flowP50: number;
  flowFailures: number;
}

export interface TopologyBenchDeps {
  standaloneUrl: string;
  duration: number;
  log: (msg: string) => void;
  startService: (
    redisUrl: string,
    label: string,
    env: NodeJS.ProcessEnv,
  ) => Promise<{ url: string; env: NodeJS.ProcessEnv; child: Child }>;
  createPending: (env: NodeJS.ProcessEnv, n: number) => Promise<string[]>;
  cannon: (opts: {
    url: string;
    connections: number;
    duration: number;
    method: 'POST';
    path: string;
    body: () => string;
  }) => Promise<{ rps: number; p50: number; p99: number; statuses: Record<string, number> }>;
  oneFlow: (url: string) => Promise<unknown>;
}

/** Sequential writes through the store: plain, then durable (SET + WAIT 1 on the key's node). */
async function waitCost(url: string, mode: 'standalone' | 'cluster', n = 300) {
  const store = new RedisStore({
    mode,
    url,
    prefix: `wst-bench-wait-${process.pid}:`,
    commandTimeoutMs: 2000,
    waitReplicas: 1,
    waitTimeoutMs: 500,
  });
  await store.waitUntilReady(10_000);
  const time = async (durable: boolean) => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await store.set(`w:{${i}}`, 'v', 10_000, { durable });
      ms.push(performance.now() - t);
    }
    return ms;
  };
  await time(false);
  const plain = await time(false);
  const durable = await time(true);
  await store.close();
  return { plain, durable };
}

export async function topologySection(deps: TopologyBenchDeps): Promise<string> {
  const cluster = new TestCluster();
  const rows: Row[] = [];
  const loadBefore = os.loadavg()[0]!;
  let wait: { plain: number[]; durable: number[] } | undefined;
  try {
    deps.log('  starting a 6-node cluster (3 masters, 3 replicas) on loopback');
    await cluster.start();
    const setups: Setup[] = [
      { label: 'standalone', url: deps.standaloneUrl, env: { REDIS_MODE: 'standalone' } },
      {
        label: 'cluster, WAIT 1 (default)',
        url: cluster.url,
        env: { REDIS_MODE: 'cluster', REDIS_WAIT_REPLICAS: 'auto' },
      },
      {
        label: 'cluster, no WAIT',
        url: cluster.url,
        env: { REDIS_MODE: 'cluster', REDIS_WAIT_REPLICAS: '0' },
      },
    ];
    for (const setup of setups) {
      const svc = await deps.startService(setup.url, setup.label, setup.env);
      try {
        const codes = await deps.createPending(svc.env, 2000);
        const bodies = codes.map(
          (c) => `grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=cli&device_code=${c}`,
        );
        let cursor = 0;
        const poll = () =>
          deps.cannon({
            url: svc.url,
            connections: 100,
            duration: deps.duration,
            method: 'POST',
            path: '/oauth2/token',
            body: () => bodies[cursor++ % bodies.length]!,
          });
        await deps.cannon({
          url: svc.url,
          connections: 100,
          duration: 1,
          method: 'POST',
          path: '/oauth2/token',
          body: () => bodies[cursor++ % bodies.length]!,
        });
        const polled = await poll();
        const latencies: number[] = [];
        let failures = 0;
        const deadline = performance.now() + deps.duration * 1000;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (performance.now() < deadline) {
              const t = performance.now();
              try {
                await deps.oneFlow(svc.url);
                latencies.push(performance.now() - t);
              } catch {
                failures++;
              }
            }
          }),
        );
        const other = Object.entries(polled.statuses)
          .filter(([code]) => code !== '400')
          .reduce((sum, [, n]) => sum + n, 0);
        const row: Row = {
          label: setup.label,
          pollRps: polled.rps,
          pollP50: polled.p50,
          pollP99: polled.p99,
          pollOther: other,
          flowsPerSec: latencies.length / deps.duration,
          flowP50: percentile(latencies, 50),
          flowFailures: failures,
        };
        rows.push(row);
        deps.log(
          `  ${setup.label}: ${fmt(row.pollRps)} pending polls/s (p50 ${row.pollP50} ms, p99 ${row.pollP99} ms), ${fmt(row.flowsPerSec, 1)} handoffs/s (p50 ${fmt(row.flowP50, 1)} ms)${failures ? `, ${failures} FAILED` : ''}`,
        );
      } finally {
        await svc.child.stop(2000);
      }
    }
    deps.log('  WAIT cost: 300 sequential writes to the cluster, plain then durable');
    wait = await waitCost(cluster.url, 'cluster');
  } finally {
    await cluster.stop();
  }

  const lines = [
    `Standalone Redis next to a 3-master Redis Cluster with one replica per master, all on this`,
    `machine's loopback (the cluster's six redis-servers share its two cores with the service and`,
    `the load generator). Pending polls: 100 connections, ${deps.duration} s, 2,000 pending`,
    `handoffs in rotation. Full handoffs: 8 concurrent flows over HTTP through the sandbox.`,
    `Machine load average (1 min) ${fmt(loadBefore, 1)} before and ${fmt(os.loadavg()[0]!, 1)} after, on`,
    `${os.availableParallelism()} cores: compare the rows with each other, and with the main table only when the`,
    'load was low.',
    '',
    '| Redis | pending polls/s | poll p50 / p99 (ms) | non-400 answers | handoffs/s | handoff p50 (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${fmt(r.pollRps)} | ${r.pollP50} / ${r.pollP99} | ${r.pollOther} | ${fmt(r.flowsPerSec, 1)}${r.flowFailures ? ` (${r.flowFailures} failed)` : ''} | ${fmt(r.flowP50, 1)} |`,
    ),
  ];
  const standalone = rows.find((r) => r.label === 'standalone');
  if (standalone) {
    lines.push('', '| target (issue 20) | measured | pass |', '| --- | --- | --- |');
    for (const r of rows.filter((x) => x !== standalone)) {
      const ratio = r.pollRps / standalone.pollRps;
      lines.push(
        `| ${r.label}: pending polls ≥ 80 % of standalone | ${fmt(100 * ratio)} % | ${ratio >= 0.8 ? 'yes' : '**no**'} |`,
      );
    }
  }
  if (wait) {
    lines.push(
      '',
      `WAIT cost (300 sequential writes through the store to the cluster): plain SET p50 ${fmt(median(wait.plain), 2)} ms,` +
        ` p99 ${fmt(percentile(wait.plain, 99), 2)} ms; durable SET + WAIT 1 p50 ${fmt(median(wait.durable), 2)} ms,` +
        ` p99 ${fmt(percentile(wait.durable, 99), 2)} ms. One durable write is made per approval or denial.`,
    );
  }
  return lines.join('\n');
}

export function writeTopologyDoc(root: string, markdown: string): void {
  const file = path.join(root, 'docs', 'BENCHMARKS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const block = `${START}\n${markdown}\n${END}`;
  const a = current.indexOf(START);
  const b = current.indexOf(END);
  const text =
    a >= 0 && b > a
      ? current.slice(0, a) + block + current.slice(b + END.length)
      : `${current.trimEnd()}\n\n## Redis topologies: standalone and cluster\n\n${block}\n`;
  fs.writeFileSync(file, text);
}
