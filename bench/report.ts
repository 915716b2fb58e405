/**
 * The report: each section turns its results into rows (target / measured / pass) and detail
 * paragraphs; this file lays them out, describes the machine, and rewrites the results block
 * of docs/BENCHMARKS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmt } from './lib';
import { ROOT } from './settings';

export interface Row {
  what: string;
  target: string;
  measured: string;
  pass: boolean | null;
}

/** What one section adds to the report. */
export interface SectionReport {
  rows: Row[];
  details: string[];
}

/** Redis calls between two INFO snapshots, including those run inside the store's scripts. */
export type Commands = { total: number; byCommand: Record<string, number> };

export function machine(redisVersion: string): string {
  const cpu =
    /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ??
    os.cpus()[0]?.model ??
    'unknown';
  return `${os.availableParallelism()} cores (nproc), ${cpu}, ${fmt(os.totalmem() / 1024 ** 3, 0)} GiB RAM, Linux ${os.release()}, Node ${process.version}, Redis ${redisVersion}`;
}

function table(rows: Row[]): string {
  const lines = ['| measure | target | measured (median of runs) | pass |', '|---|---|---|---|'];
  for (const r of rows)
    lines.push(
      `| ${r.what} | ${r.target} | ${r.measured} | ${r.pass === null ? '—' : r.pass ? 'yes' : '**no**'} |`,
    );
  return lines.join('\n');
}

export function breakdown(byCommand: Record<string, number>, per: number): string {
  return Object.entries(byCommand)
    .sort((a, b) => b[1] - a[1])
    .map(([cmd, n]) => `${cmd.toUpperCase()} ${fmt(n / per, 2)}`)
    .join(', ');
}

export function sumCommands(list: { byCommand: Record<string, number> }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of list)
    for (const [k, v] of Object.entries(c.byCommand)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The header lines, then one table of every section's rows, then their details. */
export function report(
  header: string[],
  sections: SectionReport[],
): { rows: Row[]; markdown: string } {
  const rows = sections.flatMap((s) => s.rows);
  const details = sections.flatMap((s) => s.details);
  const markdown = [...header, '', table(rows), '', ...details].join('\n');
  return { rows, markdown };
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

export function writeDoc(markdown: string): void {
  const file = path.join(ROOT, 'docs', 'BENCHMARKS.md');
  const block = `${START}\n${markdown}\n${END}`;
  let text: string;
  if (fs.existsSync(file)) {
    const current = fs.readFileSync(file, 'utf8');
    const a = current.indexOf(START);
    const b = current.indexOf(END);
    text =
      a >= 0 && b > a
        ? current.slice(0, a) + block + current.slice(b + END.length)
        : `${current.trimEnd()}\n\n## Latest results\n\n${block}\n`;
  } else {
    text = `# Benchmarks\n\nWritten by \`npm run bench\` (bench/run.ts).\n\n## Latest results\n\n${block}\n`;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}
