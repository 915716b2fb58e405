/**
 * Issue 19, "the CLI and the Action's script against the test issuer": the one-file CLI the
 * service serves, the GitHub Action's script (run as action.yml runs it) and the GitLab CI
 * template's before_script, end to end against the real service, a loopback OIDC issuer, a
 * stand-in for GitHub's runner endpoint that mints ID tokens from that issuer, and the sandbox
 * Webex; the test plays the admin who approves while the job waits.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { decideAtSandbox, openApproval } from '../helpers/admin';
import { MANY_HANDOFFS } from '../helpers/grants';
import { decodeEntities, forms } from '../helpers/http';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer';
import { startTestServer, type TestServer } from '../helpers/server';
import { startCli } from '../cli/spawn';

const ROOT = path.resolve(__dirname, '..', '..');
const SCOPE = 'spark-admin:people_read';
const USER_CODE = /Code:\s+([A-Z]{4}-[A-Z]{4})\b/;
const text = (html: string) => decodeEntities(html.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ');

/**
 * GitHub's runner endpoint (ACTIONS_ID_TOKEN_REQUEST_URL): for a job's request token, an ID
 * token from the test issuer for that job's repository and branch, with the audience asked.
 */
interface GithubRunner {
  /** The audiences asked for, in order. */
  readonly audiences: (string | null)[];
  /** The environment GitHub gives a job of `repository` on `branch`. */
  job(repository: string, branch: string): Record<string, string>;
  close(): Promise<void>;
}

async function startGithubRunner(issuer: TestIssuer): Promise<GithubRunner> {
  const jobs = new Map<string, { repository: string; branch: string }>();
  const audiences: (string | null)[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://runner');
    const job = jobs.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (url.pathname !== '/idtoken' || !job) {
      res.writeHead(job ? 404 : 401, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const audience = url.searchParams.get('audience');
    audiences.push(audience);
    issuer.mintGithub({ ...job, claims: { aud: audience ?? undefined } }).then(
      (value) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ count: 1, value }));
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    audiences,
    job(repository, branch) {
      const bearer = `runner-${jobs.size}-${repository}-${branch}`;
      jobs.set(bearer, { repository, branch });
      return {
        ACTIONS_ID_TOKEN_REQUEST_URL: `${base}/idtoken?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: bearer,
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A bash process whose output is watched for the user code it prints while it waits. */
function startBash(args: string[], env: Record<string, string>, cwd: string) {
  const child = spawn('bash', args, {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const userCode = new Promise<string>((resolve, reject) => {
    const look = () => {
      const found = USER_CODE.exec(stdout + stderr)?.[1];
      if (found) resolve(found);
    };
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), look()));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), look()));
    void exited.then((c) => reject(new Error(`exited ${c} before showing a code:\n${stderr}`)));
  });
  userCode.catch(() => undefined); // a run that needs no approval never shows one
  return {
    userCode: () => userCode,
    async exit() {
      const code = await exited;
      return { code, stdout, stderr };
    },
  };
}

let github: TestIssuer;
let gitlab: TestIssuer;
let runner: GithubRunner;
let srv: TestServer;
let dir: string;
let cliFile: string;

beforeAll(async () => {
  github = await startTestIssuer();
  gitlab = await startTestIssuer({ alg: 'ES256' });
  runner = await startGithubRunner(github);
  srv = await startTestServer({
    env: {
      ...MANY_HANDOFFS,
      DEVICE_POLL_INTERVAL_SECONDS: '1',
      // No audience: the service expects its PUBLIC_URL, which is what the CLI asks for.
      WORKLOAD_ISSUERS: JSON.stringify([
        { name: 'github', issuer: github.url },
        { name: 'gitlab', issuer: gitlab.url },
      ]),
    },
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-workload-cli-'));
  // The one-file CLI, as a job downloads it from the service.
  const res = await fetch(`${srv.url}/cli/webex-token.js`);
  assert.equal(res.status, 200);
  cliFile = path.join(dir, 'webex-token.js');
  fs.writeFileSync(cliFile, Buffer.from(await res.arrayBuffer()));
});

afterAll(async () => {
  await srv?.close();
  await Promise.all([github?.close(), gitlab?.close(), runner?.close()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * The admin enters the code, sees the verified job, approves with the width preselected (the
 * narrowest) and signs in at the sandbox.
 */
async function approveJob(userCode: string, shows: string[]): Promise<string> {
  const { page, browser } = await openApproval(srv.url, userCode);
  assert.equal(page.status, 200, page.body.slice(0, 300));
  const shown = text(page.body);
  const verified = shown.slice(shown.indexOf('Verified CI job'));
  assert.ok(shown.includes('Verified CI job'), shown.slice(0, 500));
  for (const fact of shows) assert.ok(verified.includes(fact), `the page shows ${fact}`);
  const approve = forms(page.body).find((f) => f.action === '/device/approve');
  assert.ok(approve, 'an approval form');
  const toWebex = await browser.post(`${srv.url}/device/approve`, approve.fields);
  const done = await decideAtSandbox(browser, toWebex, 'accept');
  assert.equal(done.status, 200, done.body.slice(0, 300));
  return verified;
}

/** People/me at the sandbox answers only to a live Webex token. */
async function webexAccepts(accessToken: string): Promise<boolean> {
  const res = await fetch(`${srv.sandboxUrl}/v1/people/me`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  return res.status === 200;
}

const logged = (event: string) => srv.logs.filter((l) => l.includes(`"event":"${event}"`));

describe('webex-token --oidc github', () => {
  const run = (cmd: string, env: Record<string, string>, ...rest: string[]) =>
    startCli([cmd, '--oidc', 'github', '--server', srv.url, ...rest], {
      script: cliFile,
      cwd: dir,
      env,
    });

  test('no grant yet: exit 4; login binds one after approval; later runs exchange; another branch gets 4', async () => {
    const main = runner.job('octo-org/octo-repo', 'main');

    const early = run('token', main);
    const earlyExit = await early.exit();
    assert.equal(earlyExit.code, 4, early.stderr());
    assert.equal(early.stdout(), '');
    assert.match(early.stderr(), /token exchange refused/);

    const login = run('login', main, '--scope', SCOPE, '--format', 'json', '--no-qr');
    const verified = await approveJob(await login.userCode(), [
      'octo-org/octo-repo',
      'refs/heads/main',
      'repo:octo-org/octo-repo:ref:refs/heads/main',
    ]);
    assert.match(verified, /github/);
    assert.equal((await login.exit()).code, 0, login.stderr());
    assert.match(login.stderr(), /It carries this job's GitHub ID token/);
    const tokens = JSON.parse(login.stdout()) as Record<string, unknown>;
    const accessToken = String(tokens.access_token);
    assert.match(accessToken, /^SBX_AT_/);
    const approved = logged('handoff_approved').at(-1) ?? '';
    assert.match(approved, /"repository":"octo-org\/octo-repo"/);

    const later = run('token', main, '--format', 'token');
    assert.equal((await later.exit()).code, 0, later.stderr());
    assert.equal(later.stdout(), `${accessToken}\n`, "the grant's Webex access token");
    assert.ok(await webexAccepts(accessToken), 'a live Webex token');
    const exchanged = logged('workload_exchanged');
    assert.equal(exchanged.length, 1);
    assert.match(exchanged[0]!, /"binding":"subject"/);

    const other = run('token', runner.job('octo-org/octo-repo', 'feature'), '--format', 'token');
    assert.equal((await other.exit()).code, 4, other.stderr());
    assert.equal(other.stdout(), '');
    assert.match(other.stderr(), /No grant is bound to this job .*ref refs\/heads\/feature/);
    assert.equal(logged('workload_exchanged').length, 1, 'nothing more was handed out');

    // Every ID token was asked for the service's own URL, the audience it expects.
    assert.ok(runner.audiences.length >= 4);
    assert.deepEqual(new Set(runner.audiences), new Set([srv.url]));
  });
});

/** action.yml's inputs with their defaults, and the step's INPUT_* environment. */
function actionStep(given: Record<string, string>): { run: string; env: Record<string, string> } {
  const yml = fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8');
  const inputsBlock = /^inputs:\n([\s\S]*?)^\S/m.exec(yml)?.[1] ?? '';
  const defaults = new Map<string, string>();
  for (const m of inputsBlock.matchAll(/^ {2}([a-z-]+):\n((?: {4}.*\n)+)/gm)) {
    const value = /^ {4}default: (.*)$/m.exec(m[2]!)?.[1] ?? '';
    defaults.set(m[1]!, value.replace(/^'(.*)'$/, '$1'));
  }
  const env: Record<string, string> = {};
  for (const m of yml.matchAll(/^ {8}(INPUT_[A-Z_]+): \$\{\{ inputs\.([a-z-]+) \}\}$/gm)) {
    const name = m[2]!;
    assert.ok(defaults.has(name), `action.yml declares the input ${name}`);
    env[m[1]!] = given[name] ?? defaults.get(name)!;
  }
  const run = /^ {6}run: '(.*)'$/m.exec(yml)?.[1];
  assert.ok(run, 'the step runs one command');
  return { run: run.replace(/''/g, "'"), env };
}

describe('the GitHub Action (action.yml running ci/github/webex-token-action.sh)', () => {
  /** One run of the step, as a runner does: the `run:` text in a file, bash -eo pipefail. */
  function step(job: Record<string, string>) {
    const work = fs.mkdtempSync(path.join(dir, 'runner-'));
    const files = {
      script: path.join(work, 'step.sh'),
      output: path.join(work, 'github-output'),
      env: path.join(work, 'github-env'),
      temp: path.join(work, 'temp'),
    };
    fs.mkdirSync(files.temp);
    fs.writeFileSync(files.output, '');
    fs.writeFileSync(files.env, '');
    const { run, env } = actionStep({ server: srv.url, scope: SCOPE });
    fs.writeFileSync(files.script, `${run}\n`);
    const proc = startBash(
      ['--noprofile', '--norc', '-eo', 'pipefail', files.script],
      {
        ...job,
        ...env,
        GITHUB_ACTION_PATH: ROOT,
        GITHUB_OUTPUT: files.output,
        GITHUB_ENV: files.env,
        RUNNER_TEMP: files.temp,
      },
      work,
    );
    return {
      userCode: proc.userCode,
      async exit() {
        const r = await proc.exit();
        return {
          ...r,
          outputs: fs.readFileSync(files.output, 'utf8'),
          env: fs.readFileSync(files.env, 'utf8'),
        };
      },
    };
  }

  /** The token is masked before it shows up anywhere in the log, and never on stderr. */
  function assertMaskedFirst(stdout: string, stderr: string, secret: string): void {
    const lines = stdout.split('\n');
    const first = lines.findIndex((l) => l.includes(secret));
    assert.equal(lines[first], `::add-mask::${secret}`, 'the first line with it masks it');
    assert.equal(stderr.includes(secret), false);
  }

  test('auto mode: the first run falls back from exit 4 to an approval; the next run only exchanges', async () => {
    const job = runner.job('octo-org/action-repo', 'main');
    const requested = logged('handoff_requested').length;
    const exchanged = logged('workload_exchanged').length;

    const first = step(job);
    await approveJob(await first.userCode(), ['octo-org/action-repo', 'refs/heads/main']);
    const one = await first.exit();
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stderr, /token exchange refused/);
    assert.match(one.stdout, /No grant is bound to this job yet \(first run\)/);
    const accessToken = /^access-token=(SBX_AT_\S+)$/m.exec(one.outputs)?.[1];
    assert.ok(accessToken, one.outputs);
    assertMaskedFirst(one.stdout, one.stderr, accessToken);
    const refreshMask = /^::add-mask::(wst_rt_\S+)$/m.exec(one.stdout)?.[1];
    assert.ok(refreshMask, 'the refresh token is masked too');
    assert.equal(one.outputs.includes(refreshMask), false, 'and dropped');
    assert.equal(one.env.includes(refreshMask), false);
    assert.match(one.outputs, new RegExp(`^scope=${SCOPE}$`, 'm'));
    assert.match(one.outputs, /^expires-at=\d{4}-\d\d-\d\dT/m);
    assert.match(one.env, new RegExp(`^WEBEX_ACCESS_TOKEN=${accessToken}$`, 'm'));
    assert.equal(logged('handoff_requested').length, requested + 1);

    const second = step(job);
    const two = await second.exit();
    assert.equal(two.code, 0, two.stderr);
    assert.doesNotMatch(two.stdout + two.stderr, /first run|Code:/);
    assert.equal(two.stdout.split('\n')[0], `::add-mask::${accessToken}`);
    assertMaskedFirst(two.stdout, two.stderr, accessToken);
    assert.match(two.outputs, new RegExp(`^access-token=${accessToken}$`, 'm'));
    assert.match(two.env, new RegExp(`^WEBEX_ACCESS_TOKEN=${accessToken}$`, 'm'));
    assert.equal(logged('handoff_requested').length, requested + 1, 'no admin asked again');
    assert.equal(logged('workload_exchanged').length, exchanged + 1);
    assert.ok(await webexAccepts(accessToken));
  });
});

/** The template's `before_script: - |` block, unindented, and its `variables:`. */
function gitlabTemplate(): { beforeScript: string; variables: Record<string, string> } {
  const yml = fs.readFileSync(path.join(ROOT, 'ci', 'gitlab', 'webex-token.gitlab-ci.yml'), 'utf8');
  const block = /^ {2}before_script:\n {4}- \|\n((?: {6}.*\n|\n)+)/m.exec(yml)?.[1];
  assert.ok(block, 'the template has a before_script literal block');
  const vars = /^ {2}variables:\n((?: {4}.*\n)+)/m.exec(yml)?.[1] ?? '';
  const variables: Record<string, string> = {};
  for (const m of vars.matchAll(/^ {4}([A-Z_]+): (.*)$/gm)) variables[m[1]!] = m[2]!;
  assert.ok(variables.WEBEX_TOKEN_MODE, 'the template sets WEBEX_TOKEN_MODE');
  return { beforeScript: block.replace(/^ {6}/gm, ''), variables };
}

describe('the GitLab CI template', () => {
  /** One job: GitLab mints its `id_tokens:` (aud: $WEBEX_TOKEN_SERVER), then the script runs. */
  async function job() {
    const { beforeScript, variables } = gitlabTemplate();
    const mint = () =>
      gitlab.mintGitlab({
        project: 'my-group/my-project',
        branch: 'main',
        claims: { aud: srv.url },
      });
    const script = `${beforeScript}\nprintf 'probe:%s\\n' "$WEBEX_ACCESS_TOKEN"\n`;
    return startBash(
      ['-e', '-c', script],
      {
        ...variables,
        WEBEX_TOKEN_SERVER: srv.url,
        WEBEX_TOKEN_SCOPE: SCOPE,
        WEBEX_TOKEN_ID_TOKEN: await mint(),
        WEBEX_TOKEN_LOGIN_ID_TOKEN: await mint(),
      },
      dir,
    );
  }

  test('the first job asks for approval with its ID token; the next job exchanges a fresh one', async () => {
    const exchanged = logged('workload_exchanged').length;
    const first = await job();
    await approveJob(await first.userCode(), ['my-group/my-project', 'pipeline_id']);
    const one = await first.exit();
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /first run/);
    const accessToken = /^probe:(SBX_AT_\S+)$/m.exec(one.stdout)?.[1];
    assert.ok(accessToken, one.stdout);

    const second = await job();
    const two = await second.exit();
    assert.equal(two.code, 0, two.stderr);
    assert.doesNotMatch(two.stdout + two.stderr, /first run|Code:/);
    assert.match(two.stdout, new RegExp(`^probe:${accessToken}$`, 'm'));
    const lines = logged('workload_exchanged');
    assert.equal(lines.length, exchanged + 1);
    assert.match(lines.at(-1)!, /my-group\/my-project/);
  });
});
