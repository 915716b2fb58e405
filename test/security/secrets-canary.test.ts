/**
 * The secrets canary: a browser sign-in, a script handoff with a confidential client and a
 * refresh run with recognisable tokens and secrets; none of them (nor state, code,
 * device_code, user_code or cookie values) may appear in a log line, an error page, a URL the
 * app generated, /metrics, or any Redis key or value in clear.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, test } from '@jest/globals';
import { createLogger, redactUrl } from '../../src/logger';
import { CookieBrowser, basicAuth, forms, type Page } from '../helpers/http';
import { dumpPrefix } from '../helpers/redis';
import { startTestServer, type TestServer } from '../helpers/server';
import { DEVICE_GRANT, postForm, send } from './support';
import { pollIntervalPassed } from '../helpers/time';

const TOKEN_PREFIX = 'CANARYTOKENzq';
const CLIENT_SECRET = 'CANARY-integration-secret-7f3k2';
const DEVICE_SECRET = 'CANARY-device-client-secret-9x8w7';
/** Everything the app sent out that must stay clean, with what it may legitimately carry. */
interface Exposure {
  where: string;
  text: string;
  /** Values this exposure legitimately carries (e.g. the tokens page shows tokens). */
  allowed?: RegExp;
}

class RecordingBrowser extends CookieBrowser {
  readonly pages: Page[] = [];
  override async request(
    url: string,
    init: RequestInit & { headers?: Record<string, string> },
  ): Promise<Page> {
    const page = await super.request(url, init);
    this.pages.push(page);
    return page;
  }
}

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    env: {
      CLIENT_SECRET,
      LOG_LEVEL: 'trace',
      DEVICE_POLL_INTERVAL_SECONDS: '1',
      DEVICE_CLIENTS: JSON.stringify([
        { id: 'cli', name: 'webex-token CLI' },
        { id: 'ci', name: 'Nightly CI', secret: DEVICE_SECRET },
      ]),
    },
    sandboxOptions: { tokenPrefix: TOKEN_PREFIX, clientSecret: CLIENT_SECRET },
  });
});
afterAll(() => srv?.close());

test('no token, secret, state, code, device/user code or cookie value leaks anywhere', async () => {
  const exposures: Exposure[] = [];
  const secrets = new Set<string>([CLIENT_SECRET, DEVICE_SECRET]);
  const isApp = (url: string) => url.startsWith(srv.url);
  const sandboxAuthorize = `${srv.sandboxUrl}/v1/authorize`;

  // 1. Browser flow.
  const browser = new RecordingBrowser();
  const start = await browser.get(
    `${srv.url}/start?scope=spark-admin:people_read%20spark:people_read`,
  );
  assert.ok(start.location?.startsWith(sandboxAuthorize));
  secrets.add(new URL(start.location!).searchParams.get('state')!);
  const consent = await browser.get(start.location!);
  const form = forms(consent.body)[0]!;
  const back = await browser.post(new URL(form.action, start.location!).toString(), {
    ...form.fields,
    decision: 'accept',
  });
  const callbackUrl = back.location!;
  secrets.add(new URL(callbackUrl).searchParams.get('code')!);
  const tokensPage = await browser.get(callbackUrl);
  assert.match(
    tokensPage.body,
    new RegExp(`${TOKEN_PREFIX}_AT_`),
    'the canary tokens were really issued',
  );
  const replay = await browser.get(callbackUrl);
  assert.equal(replay.status, 400, 'replayed callback is an error page');

  // 2. Script handoff with a confidential client (HTTP Basic), approved in a browser.
  const auth = await postForm(
    `${srv.url}/oauth2/device_authorization`,
    { scope: 'spark-admin:people_read' },
    { authorization: basicAuth('ci', DEVICE_SECRET), 'user-agent': 'canary-script/1.0' },
  );
  assert.equal(auth.status, 200, auth.body);
  const handoff = JSON.parse(auth.body) as Record<string, string>;
  secrets
    .add(handoff.device_code!)
    .add(handoff.user_code!)
    .add(handoff.user_code!.replace('-', ''));
  const pollBody = (extra: Record<string, string> = {}) => ({
    grant_type: DEVICE_GRANT,
    device_code: handoff.device_code!,
    ...extra,
  });
  const pending = await postForm(
    `${srv.url}/oauth2/token`,
    pollBody({ client_id: 'ci', client_secret: DEVICE_SECRET }),
  );
  exposures.push({ where: 'pending poll', text: pending.body });
  const wrongSecret = await postForm(`${srv.url}/oauth2/token`, pollBody(), {
    authorization: basicAuth('ci', `${DEVICE_SECRET}-wrong`),
  });
  assert.equal(wrongSecret.status, 401);
  exposures.push({
    where: 'wrong client secret',
    text:
      wrongSecret.body +
      JSON.stringify(
        Object.fromEntries(wrongSecret.headers as unknown as Iterable<[string, string]>),
      ),
  });

  const admin = new RecordingBrowser();
  const enter = await admin.get(handoff.verification_uri_complete!);
  const codeForm = forms(enter.body).find((f) => f.action === '/device')!;
  const approvePage = await admin.post(`${srv.url}/device`, codeForm.fields);
  const approveForm = forms(approvePage.body).find((f) => f.action === '/device/approve')!;
  const toWebex = await admin.post(`${srv.url}/device/approve`, approveForm.fields);
  assert.ok(toWebex.location?.startsWith(sandboxAuthorize));
  secrets.add(new URL(toWebex.location!).searchParams.get('state')!);
  const consent2 = await admin.get(toWebex.location!);
  const form2 = forms(consent2.body)[0]!;
  const back2 = await admin.post(new URL(form2.action, toWebex.location!).toString(), {
    ...form2.fields,
    decision: 'accept',
  });
  secrets.add(new URL(back2.location!).searchParams.get('code')!);
  const donePage = await admin.get(back2.location!);
  assert.match(donePage.body, /Approved for/);
  await pollIntervalPassed();
  const delivered = await postForm(`${srv.url}/oauth2/token`, pollBody(), {
    authorization: basicAuth('ci', DEVICE_SECRET),
  });
  assert.equal(delivered.status, 200, delivered.body);
  const tokens = JSON.parse(delivered.body) as Record<string, string>;
  assert.ok(tokens.access_token!.startsWith(`${TOKEN_PREFIX}_AT_`));
  // The service's own refresh token is as secret as Webex's (which it keeps sealed).
  assert.match(tokens.refresh_token!, /^wst_rt_/);
  secrets.add(tokens.refresh_token!);
  await pollIntervalPassed();
  const again = await postForm(`${srv.url}/oauth2/token`, pollBody(), {
    authorization: basicAuth('ci', DEVICE_SECRET),
  });
  assert.equal(JSON.parse(again.body).error, 'invalid_grant', 'delivered exactly once');
  exposures.push({ where: 'second delivery attempt', text: again.body });

  // 3. Refresh through the service, then a refused refresh.
  const refreshed = await postForm(`${srv.url}/oauth2/token`, {
    grant_type: 'refresh_token',
    client_id: 'ci',
    client_secret: DEVICE_SECRET,
    refresh_token: tokens.refresh_token!,
  });
  assert.equal(refreshed.status, 200, refreshed.body);
  assert.ok(String(JSON.parse(refreshed.body).access_token).startsWith(`${TOKEN_PREFIX}_AT_`));
  secrets.add(String(JSON.parse(refreshed.body).refresh_token));
  const badRefresh = await postForm(`${srv.url}/oauth2/token`, {
    grant_type: 'refresh_token',
    client_id: 'ci',
    client_secret: DEVICE_SECRET,
    refresh_token: `${TOKEN_PREFIX}_RT_forged`,
  });
  assert.equal(badRefresh.status, 400);
  exposures.push({ where: 'refused refresh', text: badRefresh.body });

  // 4. A few error pages carrying secrets in their requests.
  for (const [where, url] of [
    [
      'callback with a forged code',
      `${srv.url}/oauth?state=${[...secrets][2]}&code=${TOKEN_PREFIX}_CODE_forged`,
    ],
    [
      'callback with an error and description',
      `${srv.url}/oauth?state=${[...secrets][2]}&error=access_denied&error_description=${TOKEN_PREFIX}`,
    ],
    ['device page with the code', `${srv.url}/device?user_code=${handoff.user_code}`],
  ] as const) {
    const r = await send(url, {
      headers: { accept: 'text/html', cookie: 'wst_browser=' + 'c'.repeat(43) },
    });
    exposures.push({
      where,
      text: r.body + (r.headers.get('location') ?? ''),
      allowed: where === 'device page with the code' ? new RegExp(handoff.user_code!) : undefined,
    });
  }

  // Cookie values of both browsers.
  for (const b of [browser, admin]) for (const v of b.cookies.values()) secrets.add(v);

  // What the app generated: every page except the two whose purpose is to show a token or a code.
  for (const page of [...browser.pages, ...admin.pages]) {
    if (!isApp(page.url)) continue;
    const location = page.location ?? '';
    const toAuthorize = location.startsWith(sandboxAuthorize);
    const isTokensPage = page === tokensPage;
    const isCodePage = page === enter || page === approvePage;
    exposures.push({
      where: `page ${new URL(page.url).pathname} (${page.status})`,
      // The authorize redirect necessarily carries state; the tokens page shows tokens; the
      // verification pages show the user code being approved (and set the cookie).
      // (Koa's redirect body repeats the Location, so it is exempt with it.)
      text: (isTokensPage || toAuthorize ? '' : page.body) + (toAuthorize ? '' : location),
      allowed: isCodePage ? new RegExp(handoff.user_code!) : undefined,
    });
  }
  exposures.push({ where: '/metrics', text: (await send(`${srv.url}/metrics`)).body });
  exposures.push({ where: 'logs', text: srv.logs.join('\n') });
  const dump = await dumpPrefix(srv.redis!.url, srv.redis!.prefix);
  exposures.push({ where: 'Redis keys', text: [...dump.keys()].join('\n') });
  exposures.push({ where: 'Redis values', text: [...dump.values()].join('\n') });
  // Encoded is not encrypted: decode every base64/base64url-looking piece of every value too.
  const decoded = [...dump.values()]
    .flatMap((v) => v.split(/[^A-Za-z0-9+/_=-]+/))
    .filter((piece) => piece.length >= 16)
    .map((piece) =>
      Buffer.from(
        piece,
        piece.includes('+') || piece.includes('/') ? 'base64' : 'base64url',
      ).toString('latin1'),
    );
  exposures.push({ where: 'Redis values, base64-decoded', text: decoded.join('\n') });
  assert.ok(dump.size > 3, 'the store was used');
  assert.ok(srv.logs.length > 10, 'the service logged');

  for (const e of exposures) {
    assert.ok(
      !e.text.includes(TOKEN_PREFIX),
      `${e.where}: a token (or token-shaped input) appears`,
    );
    for (const s of secrets) {
      if (e.allowed && e.allowed.test(s)) continue;
      assert.ok(!e.text.includes(s), `${e.where}: contains the secret ${s.slice(0, 6)}…`);
    }
  }
  // The log lines that matter were written, with redacted URLs.
  assert.ok(
    srv.logs.some((l) => l.includes('"url":"/oauth?') && l.includes('[redacted]')),
    'callback URLs are logged redacted',
  );
  assert.ok(srv.logs.some((l) => l.includes('handoff_delivered')));
});

test('logger redaction backstops: secret fields and URL parameters are blanked wherever they appear', () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger({ level: 'trace', destination });
  const canary = `${TOKEN_PREFIX}_backstop`;
  logger.info(
    {
      req: { headers: { cookie: `wst_browser=${canary}`, authorization: `Bearer ${canary}` } },
      res: { headers: { 'set-cookie': `wst_browser=${canary}` } },
      access_token: canary,
      refresh_token: canary,
      client_secret: canary,
      tokens: { access_token: canary, refresh_token: canary, id_token: canary },
      body: {
        code: canary,
        state: canary,
        code_verifier: canary,
        device_code: canary,
        user_code: canary,
        client_secret: canary,
        clientSecret: canary,
        password: canary,
        token: canary,
      },
    },
    'backstop',
  );
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes(canary), lines[0]);
  assert.match(lines[0]!, /\[redacted\]/);

  const url = redactUrl(
    `/oauth?state=${canary}&code=${canary}&user_code=${canary}&DEVICE_CODE=${canary}&access_token=${canary}&refresh_token=${canary}&client_secret=${canary}&code_verifier=${canary}&token=${canary}&error_description=${canary}&scope=spark:people_read`,
  );
  assert.ok(!url.includes(canary), url);
  assert.match(url, /scope=spark%3Apeople_read/, 'harmless parameters stay readable');
});
