/**
 * The production build the bench measures: tsc into a private directory (a concurrent
 * `npm run build` is never disturbed), assets copied by scripts/copy-assets.mjs as for dist/.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DIST, ROOT, WORK } from './settings';

export interface BuildResult {
  ok: boolean;
  ms: number;
  note: string;
}

/** tsc of `root`'s tsconfig.build.json into `outDir`, then the assets npm run build copies. */
function compile(root: string, outDir: string): { status: number | null; output: string } {
  fs.rmSync(outDir, { recursive: true, force: true });
  const tsc = require.resolve('typescript/bin/tsc');
  const res = spawnSync(
    process.execPath,
    [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', outDir],
    { cwd: root, encoding: 'utf8' },
  );
  const output = `${res.stdout}${res.stderr}`;
  if (!fs.existsSync(path.join(outDir, 'main.js')))
    throw new Error(`tsc produced no main.js in ${outDir}:\n${output}`);
  const copy = spawnSync(
    process.execPath,
    [path.join(ROOT, 'scripts', 'copy-assets.mjs'), root, outDir],
    { encoding: 'utf8' },
  );
  if (copy.status !== 0) throw new Error(`copying assets failed:\n${copy.stderr}`);
  return { status: res.status, output };
}

/** This tree, into node_modules/.cache/wst-bench/dist. */
export function build(): BuildResult {
  const started = performance.now();
  const res = compile(ROOT, DIST);
  // dist/routes/metadata.js reads ../../package.json.
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(WORK, 'package.json'));
  const note =
    res.status === 0
      ? 'tsc clean'
      : `tsc reported type errors (emitted anyway): ${res.output.split('\n')[0]}`;
  return { ok: res.status === 0, ms: performance.now() - started, note };
}

/** Build `rev` (git archive of src/ and the tsconfigs) into the work directory; returns its dist. */
export function buildRevision(rev: string): string {
  const sha = spawnSync('git', ['rev-parse', '--short', rev], {
    cwd: ROOT,
    encoding: 'utf8',
  }).stdout.trim();
  if (!sha) throw new Error(`BENCH_COMPARE: unknown git revision "${rev}"`);
  const dir = path.join(WORK, `rev-${sha}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const archive = spawnSync(
    'git',
    [
      'archive',
      '--format=tar',
      sha,
      'src',
      'package.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'Dockerfile',
    ],
    { cwd: ROOT, maxBuffer: 1 << 28 },
  );
  if (archive.status !== 0)
    throw new Error(`git archive ${sha} failed: ${archive.stderr.toString()}`);
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr.toString()}`);
  compile(dir, path.join(dir, 'dist'));
  return path.join(dir, 'dist');
}
