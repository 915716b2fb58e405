/**
 * Issue 3, "curl alone can run the whole handoff": the bash blocks of docs/curl-handoff.md
 * (linked from README) run exactly as written against the service, while the test plays the
 * admin. The poll loop must survive authorization_pending, honour a slow_down (grown interval)
 * and use `wait` so the tokens arrive the moment the admin approves.
 *
 * Time is the test's to control (issue 13: this used to race the real poll interval under
 * load): the script's `sleep` is a stand-in on its PATH that records how long the script asked
 * to wait and returns only when the test says so, and the test lets the interval pass by
 * opening the service's poll gate itself before it does.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { approveHandoff, denyHandoff } from '../helpers/admin';
import { dumpPrefix } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';

const RECIPE = path.join(__dirname, '..', '..', 'docs', 'curl-handoff.md');

/** The fenced bash blocks between the curl-handoff markers, in order. */
function readmeBlocks(): string[] {
  const text = fs.readFileSync(RECIPE, 'utf8');
  const start = text.indexOf('<!-- curl-handoff:start -->');
  const end = text.indexOf('<!-- curl-handoff:end -->');
  assert.ok(start >= 0 && end > start, 'docs/curl-handoff.md has the curl-handoff markers');
  const section = text.slice(start, end);
  assert.match(section, /^# Script handoff with curl$/m);
  return [...section.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  return { child, out, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Resolves with 'timeout' after ms without keeping the process alive. */
const deadline = (ms: number) =>
  new Promise<string>((r) => setTimeout(() => r('timeout'), ms).unref());

async function until<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms: number,
  diagnostics: () => string,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${diagnostics()}`);
    await sleep(20);
  }
}

/** The real `date`, for everything but the script's clock readings. */
const REAL_SLEEP = ['/usr/bin/sleep', '/bin/sleep'].find((p) => fs.existsSync(p)) ?? 'sleep';
const REAL_DATE = ['/usr/bin/date', '/bin/date'].find((p) => fs.existsSync(p)) ?? 'date';

/**
 * The script's clock, on its PATH: `sleep` appends its argument to `sleeps` and returns once the
 * file `release-N` exists (N counts the calls from 1), which the test creates; `date +%s` reads
 * the time from the file `now`, which the test sets. Everything else goes to the real `date`.
 */
function controlledClock(dir: string) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const log = path.join(dir, 'sleeps');
  const now = path.join(dir, 'now');
  fs.writeFileSync(log, '');
  fs.writeFileSync(now, '1000\n');
  fs.writeFileSync(
    path.join(bin, 'sleep'),
    [
      '#!/bin/sh',
      `echo "$1" >> '${log}'`,
      `n=$(wc -l < '${log}' | tr -d ' ')`,
      // Gives up when the script is gone (a failed test kills it), so nothing is left behind.
      `while [ ! -e '${dir}/release-'"$n" ] && kill -0 "$PPID" 2>/dev/null; do ${REAL_SLEEP} 0.02; done`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  fs.writeFileSync(
    path.join(bin, 'date'),
    [
      '#!/bin/sh',
      `if [ "$1" = "+%s" ]; then cat '${now}'; else exec ${REAL_DATE} "$@"; fi`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return {
    bin,
    requested: () => fs.readFileSync(log, 'utf8').split('\n').filter(Boolean),
    release: (n: number) => fs.writeFileSync(path.join(dir, `release-${n}`), ''),
    set: (seconds: number) => fs.writeFileSync(now, `${seconds}\n`),
  };
}

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    // Polls are held up to 10 s: room for the test's admin to approve on a loaded machine.
    env: { DEVICE_POLL_INTERVAL_SECONDS: '1', DEVICE_MAX_WAIT_SECONDS: '10' },
    sandboxOptions: { tokenPrefix: 'CURLTK' },
  });
});
afterAll(() => srv.close());

test('curl and jq are installed (the README handoff needs them)', async () => {
  const probe = run('bash', ['-c', 'command -v curl && command -v jq']);
  const code = await probe.exited;
  assert.equal(
    code,
    0,
    `curl and jq must be on the PATH for the README test (apt-get install -y curl jq); found: ${probe.out.stdout.trim() || 'neither'}`,
  );
});

test('the README curl handoff runs as written: pending, slow_down, wait, tokens, refresh', async () => {
  const blocks = readmeBlocks();
  assert.ok(blocks.length >= 2, `expected the handoff as bash blocks, found ${blocks.length}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-curl-'));
  const script = path.join(dir, 'webex-handoff.sh');
  fs.writeFileSync(script, blocks.join('\n'));
  const errorCount = async (error: string) =>
    (await srv.metrics.tokenEndpointErrors.get()).values.find((v) => v.labels.error === error)
      ?.value ?? 0;

  const clock = controlledClock(dir);
  const proc = run('bash', [script], {
    cwd: dir,
    env: {
      PATH: `${clock.bin}:${process.env.PATH}`,
      HOME: dir,
      SERVER: srv.url,
      WEBEX_API: `${srv.sandboxUrl}/v1`,
    },
  });
  const diag = () =>
    `exit: ${proc.child.exitCode}\nstdout:\n${proc.out.stdout}\nstderr:\n${proc.out.stderr}`;
  try {
    // Step 1: the script shows where to go and the code.
    await until(
      () => /valid for 600 seconds/.test(proc.out.stdout),
      'the instructions on stdout',
      30_000,
      diag,
    );
    const userCode = /\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b/.exec(
      proc.out.stdout,
    )?.[1];
    assert.ok(userCode, diag());
    assert.ok(proc.out.stdout.includes(`${srv.url}/device`), 'the verification URI is shown');
    assert.ok(
      proc.out.stdout.includes(`${srv.url}/device?user_code=${userCode}`),
      'the complete URI is shown',
    );

    // Step 2: the first poll waits (wait=25, capped at 10 s here) and then gets authorization_pending.
    await until(() => srv.waiters.size === 1, 'the first poll to wait', 30_000, diag);
    // On the script's clock, that poll is held for 10 s: longer than the interval, so the
    // script polls again at once (no sleep).
    clock.set(1010);
    // Another poller on the same handoff shut the poll gate: the script's next poll comes right
    // after the held one (it waited longer than the interval) and gets slow_down. The gate stays
    // shut until the test opens it, however slow this machine is.
    const keys = await dumpPrefix(srv.redis!.url, srv.redis!.prefix);
    const handoffs = [...keys.keys()].filter((k) => k.startsWith(`${srv.redis!.prefix}handoff:`));
    assert.equal(handoffs.length, 1);
    const h = handoffs[0]!.slice(`${srv.redis!.prefix}handoff:`.length);
    const gate = `${srv.redis!.prefix}poll:${h}`;
    const redis = new Redis(srv.redis!.url);
    try {
      await redis.set(gate, '1', 'PX', 120_000);
      await until(
        async () => (await errorCount('slow_down')) === 1,
        'a slow_down answer',
        30_000,
        diag,
      );
      assert.equal(
        await errorCount('authorization_pending'),
        1,
        'the loop went on after authorization_pending',
      );
      assert.deepEqual(clock.requested(), [], 'no sleep after the held poll');

      // The script now sleeps for the grown interval (1 + 5 s; its clock did not move during
      // the slow_down poll): the only sleep it asks for.
      const asked = await until(
        () => clock.requested()[0],
        'the sleep after slow_down',
        30_000,
        diag,
      );
      assert.ok(Number(asked) >= 6, `the script waits the grown interval, asked for ${asked} s`);
      assert.ok((await redis.pttl(gate)) > 0, 'the service still holds the gate shut');
      // Let the interval pass: the service's gate opens, and so does the script's sleep.
      await redis.del(gate);
      clock.release(1);
    } finally {
      redis.disconnect();
    }

    // The script polls again, waiting; the admin approves now.
    await until(() => srv.waiters.size === 1, 'the poll after slow_down', 30_000, diag);
    const done = await approveHandoff(srv.url, userCode);
    assert.equal(done.status, 200, done.body.slice(0, 300));
    await until(() => proc.out.stdout.includes('Tokens saved'), 'the tokens', 30_000, diag);
    // The waiting poll delivered them: had it ended without them, the script would have asked
    // for a second sleep (its clock stands still), which nothing releases.
    assert.deepEqual(clock.requested().length, 1, 'the held poll delivered the tokens');
    assert.equal(await errorCount('authorization_pending'), 1, 'no poll ended without them');

    const code = await Promise.race([proc.exited, deadline(30_000)]);
    assert.equal(code, 0, diag());
  } finally {
    proc.child.kill('SIGTERM');
  }

  assert.equal(
    await errorCount('slow_down'),
    1,
    'the script honoured the grown interval (no second slow_down)',
  );
  assert.equal(proc.out.stderr, '', diag());
  // Step 3: the token worked at Webex, and the refresh went through the service.
  assert.match(proc.out.stdout, /Signed in as Ada Admin/);
  assert.match(proc.out.stdout, /Tokens refreshed/);
  // A young access token comes from the grant: Webex is not asked (REFRESH_TOKENS=managed).
  assert.equal(srv.sandbox.calls.refresh, 0);
  const file = path.join(dir, 'webex-tokens.json');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'the token file is private');
  const tokens = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  assert.match(String(tokens.access_token), /^CURLTK_AT_/);
  assert.match(String(tokens.refresh_token), /^wst_rt_[A-Za-z0-9_-]{43}$/);
  assert.equal(tokens.scope, 'spark-admin:people_read');
  const me = await fetch(`${srv.sandboxUrl}/v1/people/me`, {
    headers: { authorization: `Bearer ${String(tokens.access_token)}` },
  });
  assert.equal(me.status, 200, 'the refreshed access token works');
  assert.ok(
    !proc.out.stdout.includes(String(tokens.access_token)),
    'the script never prints a token',
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the README curl handoff stops with the reason when the admin denies', async () => {
  const blocks = readmeBlocks();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-curl-'));
  const script = path.join(dir, 'webex-handoff.sh');
  fs.writeFileSync(script, blocks.join('\n'));
  const proc = run('bash', [script], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      SERVER: srv.url,
      SCOPE: 'spark-admin:people_read spark-admin:licenses_read',
    },
  });
  const diag = () =>
    `exit: ${proc.child.exitCode}\nstdout:\n${proc.out.stdout}\nstderr:\n${proc.out.stderr}`;
  try {
    const userCode = await until(
      () => /\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b/.exec(proc.out.stdout)?.[1],
      'the user code',
      30_000,
      diag,
    );
    assert.equal((await denyHandoff(srv.url, userCode)).status, 200);
    const code = await Promise.race([proc.exited, deadline(30_000)]);
    assert.equal(code, 1, diag());
  } finally {
    proc.child.kill('SIGTERM');
  }
  assert.match(proc.out.stderr, /access_denied/);
  assert.ok(!fs.existsSync(path.join(dir, 'webex-tokens.json')), 'no token file');
  fs.rmSync(dir, { recursive: true, force: true });
});
