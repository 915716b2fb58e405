/**
 * The CLI's User-Agent: who it is, on what, and which CI job (claims the approval page shows as
 * such), short, bounded and printable ASCII; and it is sent on every request of a login.
 */
import assert from 'node:assert/strict';
import { describe, test } from '@jest/globals';
import type { Clock } from '../../src/cli/http';
import { type CliIO, run, version } from '../../src/cli/main';
import { USER_AGENT_MAX, cliUserAgent } from '../../src/cli/user-agent';
import { openApproval } from '../helpers/admin';
import { decodeEntities } from '../helpers/http';
import { startTestServer } from '../helpers/server';

const BASE = 'https://tokens.example.com';
const runtime = { platform: 'linux', node: '20.11.1' };
const printable = /^[\x20-\x7e]+$/;

describe('cliUserAgent', () => {
  test('names the CLI, its version, the OS and Node', () => {
    assert.equal(cliUserAgent('1.4.0', {}, runtime), 'webex-token/1.4.0 (linux; node 20.11.1)');
    assert.match(
      cliUserAgent(version(), {}),
      /^webex-token\/[\w.+-]+ \(\w+; node \d+\.\d+\.\d+\)$/,
    );
  });

  test('adds the CI hints that are set, in a fixed order', () => {
    const github = cliUserAgent(
      '1.4.0',
      { GITHUB_RUN_ID: '123456789', GITHUB_REPOSITORY: 'acme/deploy', HOME: '/root' },
      runtime,
    );
    assert.equal(
      github,
      'webex-token/1.4.0 (linux; node 20.11.1; GITHUB_REPOSITORY=acme/deploy; GITHUB_RUN_ID=123456789)',
    );
    const gitlab = cliUserAgent(
      '1.4.0',
      { CI_PROJECT_PATH: 'group/sub/project', CI_PIPELINE_ID: '42', CI_JOB_TOKEN: 'secret' },
      runtime,
    );
    assert.equal(
      gitlab,
      'webex-token/1.4.0 (linux; node 20.11.1; CI_PROJECT_PATH=group/sub/project; CI_PIPELINE_ID=42)',
    );
    assert.doesNotMatch(gitlab, /secret/, 'only the listed variables');
  });

  test('hostile values stay printable, unstructured and bounded', () => {
    const ua = cliUserAgent(
      '1.4.0\r\nX-Injected: 1',
      {
        GITHUB_REPOSITORY: `acme/dé ploy); evil=(1\u0000\u001b[31m${'x'.repeat(500)}`,
        GITHUB_RUN_ID: '7'.repeat(150),
        CI_PROJECT_PATH: 'p',
      },
      runtime,
    );
    assert.match(ua, printable);
    assert.ok(ua.length <= USER_AGENT_MAX, `${ua.length} characters`);
    assert.doesNotMatch(ua, /[\r\n]|X-Injected: /);
    assert.equal((ua.match(/\(/g) ?? []).length, 1, 'one comment, not closed early');
    assert.ok(ua.endsWith(')'));
    // Whole hints or none: the long ones that do not fit are left out, the short one stays.
    assert.match(ua, /; CI_PROJECT_PATH=p\)$/);
  });
});

test('login sends it on every request', async () => {
  const seen: { url: string; ua: string | null }[] = [];
  let polls = 0;
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    seen.push({ url, ua: new Headers(init?.headers).get('user-agent') });
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json' },
      });
    if (url.endsWith('/.well-known/oauth-authorization-server'))
      return json(200, {
        issuer: BASE,
        device_authorization_endpoint: `${BASE}/oauth2/device_authorization`,
        token_endpoint: `${BASE}/oauth2/token`,
        webex_scoped_tokens: { version: '9.9.9' },
      });
    if (url.endsWith('/oauth2/device_authorization'))
      return json(200, {
        device_code: 'DEV',
        user_code: 'BCDF-GHJK',
        verification_uri: `${BASE}/device`,
        expires_in: 600,
        interval: 5,
      });
    polls += 1;
    if (polls === 1) return json(400, { error: 'authorization_pending' });
    return json(200, { access_token: 'AT_1', token_type: 'Bearer', expires_in: 60 });
  }) as typeof fetch;
  let err = '';
  let t = Date.parse('2030-01-01T00:00:00Z');
  const clock: Clock = { now: () => t, sleep: async (ms) => void (t += ms) };
  const io: CliIO = {
    stdout: { write: () => true },
    stderr: { write: (c: string) => (err += c), isTTY: false },
    env: { GITHUB_REPOSITORY: 'acme/deploy', GITHUB_RUN_ID: '99' },
    fetch: fetchImpl,
    clock,
  };
  assert.equal(await run(['login', '-s', BASE, '-f', 'token'], io), 0, err);
  assert.ok(seen.length >= 4, `${seen.length} requests`);
  for (const r of seen) {
    assert.match(
      r.ua ?? '',
      /^webex-token\/\S+ \(\w+; node [\d.]+; GITHUB_REPOSITORY=acme\/deploy; GITHUB_RUN_ID=99\)$/,
      r.url,
    );
  }
});

test('the approval page shows it, labelled as claimed', async () => {
  const srv = await startTestServer();
  try {
    const ua = cliUserAgent(
      version(),
      { GITHUB_REPOSITORY: 'acme/deploy', GITHUB_RUN_ID: '99' },
      { platform: 'linux', node: '20.11.1' },
    );
    const res = await fetch(`${srv.url}/oauth2/device_authorization`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': ua },
      body: new URLSearchParams({ client_id: 'cli', scope: 'spark-admin:people_read' }),
    });
    const { user_code: userCode } = (await res.json()) as { user_code: string };
    const { page } = await openApproval(srv.url, userCode);
    assert.equal(page.status, 200);
    const row = /<dt>User agent \(claimed\)<\/dt><dd>([^<]*)<\/dd>/.exec(page.body);
    assert.ok(row, 'a user-agent row labelled as claimed');
    assert.equal(decodeEntities(row[1]!), ua);
  } finally {
    await srv.close();
  }
});
