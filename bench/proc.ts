/** Readings from /proc: RSS, open descriptors, CPU time of a process and of the machine. */
import fs from 'node:fs';

/** Resident set size in bytes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Open file descriptors, from /proc/<pid>/fd. */
export function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** CPU time (user + system) the process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}

/** CPU time all processes used so far (every core), in ms, from /proc/stat. */
export function systemBusyMs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return ((user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * 1000) / CLOCK_TICKS;
}

/**
 * Measures how much CPU processes other than `ours` used over an interval, in cores: other
 * sessions' test suites share this machine, and this says how noisy a measurement was.
 */
export function foreignLoad(ours: () => number[]): { stop: () => number } {
  const started = performance.now();
  const sum = () =>
    ours().reduce((a, pid) => a + (pid === process.pid ? selfCpuMs() : safeCpuMs(pid)), 0);
  const total0 = systemBusyMs();
  const ours0 = sum();
  return {
    stop: () => {
      const wall = performance.now() - started;
      return Math.max(0, systemBusyMs() - total0 - (sum() - ours0)) / wall;
    },
  };
}

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function safeCpuMs(pid: number): number {
  try {
    return cpuMs(pid);
  } catch {
    return 0;
  }
}

/** USER_HZ; 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/** Samples RSS every `everyMs` until stopped; returns the samples in bytes. */
export function sampleRss(pid: number, everyMs = 200): { stop: () => number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    try {
      samples.push(rssBytes(pid));
    } catch {
      /* process gone */
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}
