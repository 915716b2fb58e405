/** Cold start: the image's CMD from spawn to the first 200 from /readyz, and idle RSS after. */
import path from 'node:path';
import { freePort } from '../test/helpers/redis';
import { MB, fmt, imageNodeFlags, median, sleep, spawnChild, waitFor200 } from './lib';
import { rssBytes } from './proc';
import { serviceEnv, type Ctx } from './processes';
import type { Row, SectionReport } from './report';
import { COLD_STARTS, DIST, WORK, log } from './settings';

export interface StartRep {
  readyMs: number;
  idleRss: number;
}

export async function coldStartSection(ctx: Ctx): Promise<StartRep[]> {
  const reps: StartRep[] = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    const port = await freePort();
    const env = serviceEnv(port, ctx.redisUrl, ctx.sandboxUrl, await freePort());
    const started = performance.now();
    const child = spawnChild(
      process.execPath,
      [...imageNodeFlags(), path.join(DIST, 'main.js')],
      env,
      { cwd: WORK },
    );
    await waitFor200(`http://127.0.0.1:${port}/readyz`, 15_000, 5, child);
    const readyMs = performance.now() - started;
    await sleep(2000);
    const idleRss = rssBytes(child.pid);
    await child.stop();
    reps.push({ readyMs, idleRss });
    log(
      `  start ${i + 1}: /readyz green after ${fmt(readyMs)} ms; idle RSS ${fmt(idleRss / MB, 1)} MB`,
    );
  }
  return reps;
}

export function coldStartReport(starts: StartRep[]): SectionReport {
  const rows: Row[] = [];
  const details: string[] = [];
  const ready = median(starts.map((s) => s.readyMs));
  const idle = median(starts.map((s) => s.idleRss));
  rows.push({
    what: 'Cold start to /readyz green (the image CMD, compiled)',
    target: '< 1.5 s',
    measured: `${fmt(ready)} ms (of ${starts.map((s) => fmt(s.readyMs)).join(', ')})`,
    pass: ready < 1500,
  });
  rows.push({
    what: 'Idle RSS (2 s after ready)',
    target: '< 120 MB',
    measured: `${fmt(idle / MB, 1)} MB`,
    pass: idle < 120 * MB,
  });
  return { rows, details };
}
