/**
 * Issue 13, smaller things on the approval pages: a wrong code keeps what was typed; the
 * requester's user agent and address are labelled as its claims, and a user agent that names
 * no one (Node's fetch sends `node`) shows as "unknown".
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { openApproval, requestHandoff } from '../helpers/admin';
import { CookieBrowser, decodeEntities, forms } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.close());

/** The approval page's "Who is asking" list as label → text. */
function details(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<dt>([^<]*)<\/dt>\s*<dd>([\s\S]*?)<\/dd>/g)) {
    out[decodeEntities(m[1]!).trim()] = decodeEntities(m[2]!.replace(/<[^>]+>/g, ''))
      .replace(/\s+/g, ' ')
      .trim();
  }
  return out;
}

test('a wrong code on /device keeps what was typed, with the explanation', async () => {
  const browser = new CookieBrowser();
  const { page } = await openApproval(srv.url, 'bcdf-ghjx', browser);
  assert.equal(page.status, 400);
  assert.match(page.body, /That code is not valid/);
  const form = forms(page.body).find((f) => f.action === '/device');
  assert.equal(form?.fields.user_code, 'bcdf-ghjx', 'the typed code is still in the field');
});

test('the approval page labels address and user agent as claims; a library default is "unknown"', async () => {
  // requestHandoff uses Node's fetch, which sends the user agent "node".
  const auth = await requestHandoff(srv.url);
  assert.equal(auth.status, 200);
  const { page } = await openApproval(srv.url, String(auth.json.user_code));
  assert.equal(page.status, 200, page.body.slice(0, 300));
  const d = details(page.body);
  assert.match(d['Source address (claimed)'] ?? '', /127\.0\.0\.1/);
  assert.equal(d['User agent (claimed)'], 'unknown');
  assert.ok(!('User agent' in d), 'no unlabelled user agent');
  assert.match(page.body, /both are what the requester claims, not proof of who it is/);
  assert.doesNotMatch(page.body, /<dd>node<\/dd>/);
});

test('a user agent that names the script is shown as sent (escaped)', async () => {
  const res = await fetch(`${srv.url}/oauth2/device_authorization`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'nightly-report/2.1 <b>x</b>',
    },
    body: new URLSearchParams({ client_id: 'cli', scope: 'spark-admin:people_read' }),
  });
  const json = (await res.json()) as Record<string, string>;
  const { page } = await openApproval(srv.url, json.user_code!);
  assert.equal(details(page.body)['User agent (claimed)'], 'nightly-report/2.1 <b>x</b>');
  assert.ok(!page.body.includes('<b>x</b>'), 'escaped');
});
