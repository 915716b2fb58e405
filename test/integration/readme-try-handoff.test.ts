/**
 * Issue 13, "the demo teaches the handoff": README's "Try the handoff" commands run as written
 * against a demo-like service (SANDBOX=true, the simulated Webex mounted in the service under
 * /sandbox/v1, in-memory store), with only `http://localhost:8080` pointed at the test's port.
 * The test plays the admin who opens the link and approves.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, test } from '@jest/globals';
import { startService, type RunningService } from '../../src/main';
import { approveHandoff } from '../helpers/admin';
import { freePort } from '../helpers/redis';
import { captureLogger } from '../helpers/server';

const ROOT = path.resolve(__dirname, '..', '..');
const USER_CODE = /\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b/;

/** The ```sh blocks of README's "Try the handoff" section, in order. */
function tryBlocks(): string[] {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = text.indexOf('<!-- try-handoff:start -->');
  const end = text.indexOf('<!-- try-handoff:end -->');
  assert.ok(start >= 0 && end > start, 'README.md has the try-handoff markers');
  const section = text.slice(start, end);
  assert.match(section, /^## Try the handoff$/m);
  // Prettier fences a block that contains ``` with four backticks.
  return [...section.matchAll(/^(`{3,})sh\n([\s\S]*?)^\1$/gm)].map((m) => m[2]!);
}

let service: RunningService;
let url = '';
const logs: string[] = [];
beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  service = await startService(
    {
      NODE_ENV: 'test',
      SANDBOX: 'true',
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      REDIS_URL: '',
      SHUTDOWN_GRACE_SECONDS: '1',
    },
    { logger: captureLogger(logs) },
  );
});
afterAll(() => service.shutdown());

/** Runs one README block with bash, the demo's URL pointed at the test service. */
async function runBlock(block: string, cwd: string, seeCode: (out: string) => string | undefined) {
  assert.ok(block.includes('http://localhost:8080'), 'the block talks to the demo');
  const child = spawn('bash', ['-euc', block.replaceAll('http://localhost:8080', url)], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? cwd },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const code = new Promise<string>((resolve, reject) => {
    const look = () => {
      const found = seeCode(stdout + stderr);
      if (found) resolve(found);
    };
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), look()));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), look()));
    void exited.then((c) =>
      reject(new Error(`exited ${c} before showing a code:\n${stdout}\n${stderr}`)),
    );
  });
  try {
    const userCode = await code;
    const done = await approveHandoff(url, userCode);
    assert.equal(done.status, 200, done.body.slice(0, 300));
    assert.equal(await exited, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
  } finally {
    child.kill('SIGTERM');
  }
  return { stdout, stderr };
}

test('README shows the CLI line and the curl recipe, both with the demo URL', () => {
  const blocks = tryBlocks();
  assert.equal(blocks.length, 2, 'one CLI block and one curl block');
  assert.match(blocks[0]!, /webex-token login --server http:\/\/localhost:8080 --scope "[^"]+"/);
  assert.match(blocks[1]!, /WEBEX_API=http:\/\/localhost:8080\/sandbox\/v1/);
});

test('the CLI line from "Try the handoff" gets tokens through an approval', async () => {
  const [cli] = tryBlocks();
  const { stdout, stderr } = await runBlock(cli!, ROOT, (out) => USER_CODE.exec(out)?.[1]);
  assert.ok(stderr.includes(`${url}/device`), 'the CLI shows where to approve');
  const tokens = JSON.parse(stdout) as Record<string, unknown>;
  assert.equal(typeof tokens.access_token, 'string');
  assert.equal(tokens.scope, 'spark-admin:people_read');
});

test('the curl lines from "Try the handoff" get tokens and call the sandbox API with them', async () => {
  const [, curl] = tryBlocks();
  // A fresh folder with the recipe where README expects it, so the script's files land there.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-try-'));
  try {
    fs.mkdirSync(path.join(dir, 'docs'));
    fs.copyFileSync(
      path.join(ROOT, 'docs', 'curl-handoff.md'),
      path.join(dir, 'docs', 'curl-handoff.md'),
    );
    const { stdout } = await runBlock(curl!, dir, (out) => USER_CODE.exec(out)?.[1]);
    assert.match(stdout, /Tokens saved to webex-tokens\.json/);
    assert.match(stdout, /Signed in as /, 'the token worked at the sandbox API');
    assert.match(stdout, /Tokens refreshed/);
    assert.ok(fs.existsSync(path.join(dir, 'webex-tokens.json')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
