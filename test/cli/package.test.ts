/**
 * Issue 13, "the CLI installs anywhere": `npm pack` of the repository (its prepack builds) gives
 * a package named the project's own that installs with production dependencies only into an
 * empty folder and provides `webex-token`, which gets tokens through a full approval.
 *
 * The repository's files are packed from a copy (with this checkout's node_modules linked in),
 * so the test leaves no dist/ behind in the checkout. npm uses its cache first (--prefer-offline).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, test } from '@jest/globals';
import { promisify } from 'node:util';
import { approveHandoff } from '../helpers/admin';
import { startTestServer, type TestServer } from '../helpers/server';
import { ROOT, startCli } from './spawn';

const run = promisify(execFile);
const SCOPE = 'spark-admin:people_read';
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let srv: TestServer;
let work: string;
let installed: string;

/** The checkout's files as git sees them (tracked and new, not ignored). */
async function repositoryFiles(): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.split('\0').filter((f) => f !== '' && fs.existsSync(path.join(ROOT, f)));
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'webex-token-pack-'));
  const copy = path.join(work, 'repo');
  for (const f of await repositoryFiles()) {
    fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(copy, f));
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  const env = { ...process.env, npm_config_update_notifier: 'false', NODE_ENV: '' };
  const packed = await run(NPM, ['pack', '--json', '--pack-destination', work], {
    cwd: copy,
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  const info = JSON.parse(packed.stdout) as { filename: string; name: string }[];
  assert.equal(info[0]?.name, 'webex-scoped-tokens', 'the package has the project name');
  const tarball = path.join(work, info[0]!.filename);

  installed = path.join(work, 'empty');
  fs.mkdirSync(installed);
  await run(
    NPM,
    ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', tarball],
    { cwd: installed, env, maxBuffer: 64 * 1024 * 1024 },
  );

  srv = await startTestServer({
    store: 'memory',
    env: { DEVICE_POLL_INTERVAL_SECONDS: '1', RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000' },
  });
  // npm pack runs the build (tsc and the CLI bundle), then npm install: minutes on a loaded
  // machine, past the cli project's 60 s (node's runner set no limit on hooks).
}, 10 * 60_000);

afterAll(async () => {
  await srv?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball installs with production dependencies only and provides webex-token', () => {
  const modules = path.join(installed, 'node_modules');
  assert.ok(fs.existsSync(path.join(modules, 'webex-scoped-tokens', 'dist', 'cli', 'main.js')));
  assert.ok(
    fs.existsSync(
      path.join(modules, 'webex-scoped-tokens', 'dist', 'cli-bundle', 'webex-token.js'),
    ),
    'the one-file CLI the service serves is in the package',
  );
  for (const dev of ['tsx', 'typescript', 'esbuild', 'eslint']) {
    assert.ok(!fs.existsSync(path.join(modules, dev)), `${dev} is a dev dependency`);
  }
  assert.ok(fs.existsSync(path.join(modules, '.bin', 'webex-token')));
  assert.ok(!fs.existsSync(path.join(modules, 'webex-scoped-tokens', 'src')), 'no sources');
});

test('webex-token from the installed package: --version, then login through a full approval', async () => {
  const bin = path.join(installed, 'node_modules', '.bin', 'webex-token');
  const version = await run(bin, ['--version'], { cwd: installed });
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  assert.equal(version.stdout.trim(), pkg.version);

  const cli = startCli(['login', '--server', srv.url, '--scope', SCOPE, '--format', 'env'], {
    script: bin,
    cwd: installed,
  });
  const code = await cli.userCode();
  const approved = await approveHandoff(srv.url, code);
  assert.equal(approved.status, 200);
  const { code: exit } = await cli.exit();
  assert.equal(exit, 0, cli.stderr());
  assert.match(cli.stdout(), /^WEBEX_ACCESS_TOKEN=SBX_AT_/m);
  assert.match(cli.stderr(), /approved by Ada Admin/);
  assert.doesNotMatch(cli.stderr(), /tsx/);
});
