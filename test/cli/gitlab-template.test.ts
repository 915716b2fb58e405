/**
 * The GitLab CI template's before_script (ci/gitlab/webex-token.gitlab-ci.yml), run by bash as
 * GitLab would, with the real one-file CLI against a loopback stand-in for the service's
 * workload-identity contract: the ID tokens come from the template's `id_tokens:` variables.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { bundleCli } from '../../src/cli/bundle';
import { GRANT_SCOPES, JWT_TYPE, TOKEN_EXCHANGE, WorkloadServer } from './workload-server';

const TEMPLATE = path.resolve(__dirname, '..', '..', 'ci', 'gitlab', 'webex-token.gitlab-ci.yml');

/** The `before_script: - |` block, unindented. */
function beforeScript(): string {
  const yml = fs.readFileSync(TEMPLATE, 'utf8');
  const block = /^ {2}before_script:\n {4}- \|\n((?: {6}.*\n|\n)+)/m.exec(yml)?.[1];
  assert.ok(block, 'the template has a before_script literal block');
  return block.replace(/^ {6}/gm, '');
}

describe('the GitLab CI template', () => {
  const service = new WorkloadServer();
  const SUB = 'project_path:acme/deploy:ref_type:branch:ref:main';

  beforeAll(async () => {
    service.serveCli(await bundleCli());
    await service.start();
  });
  afterAll(() => service.stop());

  /** One job: fresh ID tokens (GitLab mints them per job), then before_script, then a probe. */
  async function job(): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const script = `${beforeScript()}\necho "probe:$WEBEX_ACCESS_TOKEN:\${WEBEX_TOKEN_ID_TOKEN-unset}"\n`;
    const child = spawn('bash', ['-e', '-c', script], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        WEBEX_TOKEN_SERVER: service.base,
        WEBEX_TOKEN_SCOPE: GRANT_SCOPES.join(' '),
        WEBEX_TOKEN_MODE: 'auto',
        WEBEX_TOKEN_TIMEOUT: '30s',
        WEBEX_TOKEN_ID_TOKEN: service.gitlabToken(service.base, SUB),
        WEBEX_TOKEN_LOGIN_ID_TOKEN: service.gitlabToken(service.base, SUB),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, stdout, stderr };
  }

  test('first job: exchange refused (exit 4) → login with the second ID token; later jobs only exchange', async () => {
    const first = await job();
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /first run/);
    assert.match(first.stdout, /^probe:AT-login:unset$/m, 'the token is left, the ID tokens unset');
    const [exchange, authorize] = service.posts;
    assert.equal(exchange?.params.grant_type, TOKEN_EXCHANGE);
    assert.equal(authorize?.path, '/oauth2/device_authorization');
    assert.equal(authorize?.params.subject_token_type, JWT_TYPE);
    assert.notEqual(
      authorize?.params.subject_token,
      exchange?.params.subject_token,
      'each ID token is presented once',
    );
    assert.ok(service.bound.has(SUB));

    service.posts.length = 0;
    const later = await job();
    assert.equal(later.code, 0, later.stderr);
    assert.match(later.stdout, /^probe:AT-exchanged:unset$/m);
    assert.deepEqual(
      service.posts.map((p) => p.params.grant_type),
      [TOKEN_EXCHANGE],
    );
  });
});
