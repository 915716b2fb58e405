/**
 * Real Redis topologies on loopback for the tests, from Debian's redis-server and redis-cli:
 * a 6-node cluster (3 masters, 3 replicas) and a sentinel group (1 master, 1 replica,
 * 3 sentinels). Each lives in its own temp dir on free ports, with a password, and is
 * removed by stop(). Failover waits poll the topology's own state, never a fixed sleep.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/redis';

export const PASSWORD = 'topology-test-password';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function binary(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin'])) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} is not installed (apt-get install redis-server redis-tools)`);
}

export async function until<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(50);
  }
}

class Node {
  child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  start(args: string[]): void {
    const child = spawn(binary('redis-server'), args, { stdio: 'ignore', cwd: this.dir });
    child.unref();
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.off('exit', kill));
    this.child = child;
  }

  client(): Redis {
    return new Redis({
      port: this.port,
      host: '127.0.0.1',
      password: PASSWORD,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
  }

  async run<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = this.client();
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  }

  async ready(): Promise<void> {
    await until(() => this.run((r) => r.ping()), `redis-server on ${this.port}`, 10_000);
  }

  kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    // Referenced again while we wait for it, or an otherwise idle event loop would just end.
    child.ref();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

function dataArgs(port: number): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--requirepass',
    PASSWORD,
    '--masterauth',
    PASSWORD,
  ];
}

export class TestCluster {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-cluster-'));
  nodes: Node[] = [];

  get url(): string {
    // Two seeds are enough: the client learns the rest from CLUSTER SLOTS.
    return this.nodes
      .slice(0, 2)
      .map((n) => `redis://:${PASSWORD}@127.0.0.1:${n.port}`)
      .join(',');
  }

  async start(): Promise<void> {
    for (let i = 0; i < 6; i++) {
      const port = await freePort();
      const dir = path.join(this.dir, String(port));
      fs.mkdirSync(dir);
      const node = new Node(port, dir);
      node.start([
        ...dataArgs(port),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
      ]);
      this.nodes.push(node);
    }
    await Promise.all(this.nodes.map((n) => n.ready()));
    const created = spawnSync(
      binary('redis-cli'),
      [
        '-a',
        PASSWORD,
        '--no-auth-warning',
        '--cluster',
        'create',
        ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0) throw new Error(`cluster create failed: ${created.stdout}`);
    await until(() => this.healthy(), 'the cluster to be ok with 3 replicas in sync', 30_000);
  }

  /** cluster_state ok everywhere alive, 3 masters each with a replica whose link is up. */
  async healthy(): Promise<boolean> {
    const alive = this.nodes.filter((n) => n.child?.exitCode === null && !n.child.signalCode);
    for (const node of alive) {
      const info = await node.run((r) => r.cluster('INFO'));
      if (!String(info).includes('cluster_state:ok')) return false;
      // Every node's slot map names a replica for every range (what clients read).
      const slots = (await node.run((r) => r.cluster('SLOTS'))) as unknown[][];
      if (slots.some((range) => range.length < 4)) return false;
    }
    const roles = await Promise.all(alive.map((n) => n.run((r) => r.info('replication'))));
    const masters = roles.filter((r) => r.includes('role:master'));
    const synced = roles.filter((r) => r.includes('master_link_status:up'));
    return masters.length === 3 && synced.length >= alive.length - 3;
  }

  async masters(): Promise<Node[]> {
    const out: Node[] = [];
    for (const n of this.nodes) {
      if (n.child?.exitCode !== null || n.child.signalCode) continue;
      const info = await n.run((r) => r.info('replication')).catch(() => '');
      if (info.includes('role:master')) out.push(n);
    }
    return out;
  }

  /** The master holding the most keys (the busiest one), by DBSIZE. */
  async busiestMaster(): Promise<Node> {
    const masters = await this.masters();
    const sizes = await Promise.all(masters.map((m) => m.run((r) => r.dbsize())));
    let best = 0;
    sizes.forEach((s, i) => (best = s > sizes[best]! ? i : best));
    return masters[best]!;
  }

  /** kill -9 a master, then wait until its replica took over and the cluster is ok again. */
  async killAndAwaitPromotion(victim: Node): Promise<{ promotedMs: number }> {
    const nodeId = await victim.run((r) => r.cluster('MYID'));
    const started = Date.now();
    await victim.kill();
    const witness = this.nodes.find((n) => n !== victim && n.child?.exitCode === null)!;
    await until(
      async () => {
        const nodes = String(await witness.run((r) => r.cluster('NODES')));
        const line = nodes.split('\n').find((l) => l.startsWith(String(nodeId)));
        const promoted = nodes
          .split('\n')
          .some((l) => l.includes(' master') && !l.includes('fail') && l.includes(' connected'));
        const info = String(await witness.run((r) => r.cluster('INFO')));
        return Boolean(line?.includes('fail')) && promoted && info.includes('cluster_state:ok');
      },
      'a replica to be promoted',
      30_000,
    );
    return { promotedMs: Date.now() - started };
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export class TestSentinelGroup {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-sentinel-'));
  master!: Node;
  replica!: Node;
  sentinels: Node[] = [];
  readonly name = 'wstmaster';

  /** The sentinels, with the data nodes' password (the sentinels themselves need none here). */
  get url(): string {
    return this.sentinels.map((s) => `redis://:${PASSWORD}@127.0.0.1:${s.port}`).join(',');
  }

  async start(): Promise<void> {
    const mport = await freePort();
    this.master = new Node(mport, this.mkdir(`m${mport}`));
    this.master.start([...dataArgs(mport), '--dir', this.master.dir]);
    const rport = await freePort();
    this.replica = new Node(rport, this.mkdir(`r${rport}`));
    this.replica.start([
      ...dataArgs(rport),
      '--dir',
      this.replica.dir,
      '--replicaof',
      '127.0.0.1',
      String(mport),
    ]);
    await Promise.all([this.master.ready(), this.replica.ready()]);
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = this.mkdir(`s${port}`);
      const conf = path.join(dir, 'sentinel.conf');
      fs.writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${this.name} 127.0.0.1 ${mport} 2`,
          `sentinel auth-pass ${this.name} ${PASSWORD}`,
          `sentinel down-after-milliseconds ${this.name} 1000`,
          `sentinel failover-timeout ${this.name} 5000`,
          `sentinel parallel-syncs ${this.name} 1`,
          '',
        ].join('\n'),
      );
      const node = new Node(port, dir);
      const child = spawn(binary('redis-server'), [conf, '--sentinel'], {
        stdio: 'ignore',
        cwd: dir,
      });
      child.unref();
      const kill = () => child.kill('SIGKILL');
      process.once('exit', kill);
      child.once('exit', () => process.off('exit', kill));
      node.child = child;
      this.sentinels.push(node);
    }
    await until(
      async () => {
        for (const s of this.sentinels) {
          const r = new Redis({ port: s.port, lazyConnect: true, retryStrategy: () => null });
          r.on('error', () => undefined);
          try {
            await r.connect();
            const replicas = (await r.call('SENTINEL', 'REPLICAS', this.name)) as unknown[];
            const peers = (await r.call('SENTINEL', 'SENTINELS', this.name)) as unknown[];
            if (replicas.length < 1 || peers.length < 2) return false;
          } finally {
            r.disconnect();
          }
        }
        return (await this.replica.run((r) => r.info('replication'))).includes(
          'master_link_status:up',
        );
      },
      'the sentinels to know the replica and each other',
      30_000,
    );
  }

  private mkdir(name: string): string {
    const dir = path.join(this.dir, name);
    fs.mkdirSync(dir);
    return dir;
  }

  /** kill -9 the master; resolve when a sentinel announces +switch-master to the replica. */
  async killAndAwaitPromotion(): Promise<{ promotedMs: number }> {
    const watcher = new Redis({ port: this.sentinels[0]!.port, retryStrategy: () => null });
    watcher.on('error', () => undefined);
    const switched = new Promise<void>((resolve) => {
      watcher.on('message', (_channel: string, message: string) => {
        if (message.includes(String(this.replica.port))) resolve();
      });
    });
    await watcher.subscribe('+switch-master');
    const started = Date.now();
    await this.master.kill();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        switched,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('no +switch-master within 30 s')), 30_000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      watcher.disconnect();
    }
    return { promotedMs: Date.now() - started };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, this.master, this.replica].map((n) => n.kill()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
