/**
 * globalSetup of the chart project: builds the pinned helm and kubevalidate into .bin/ with
 * scripts/build-tools.sh (cached: only a first run on a cold Go cache takes minutes), once and
 * before the chart tests start, with its output shown. The test file's beforeAll runs the same
 * script for a run of that file alone and finds both tools cached.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export default function buildChartTools(): void {
  const root = path.resolve(__dirname, '..', '..');
  console.error(
    '\nPreparing the chart tests: scripts/build-tools.sh (helm and kubevalidate into .bin/)',
  );
  const built = spawnSync('bash', [path.join(root, 'scripts', 'build-tools.sh')], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (built.status !== 0) {
    throw new Error(
      'scripts/build-tools.sh failed: the chart tests need Go (see README prerequisites).',
    );
  }
}
