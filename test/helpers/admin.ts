/**
 * Plays the admin over HTTP: enter a script's user code, approve or deny it, and sign in at
 * the sandbox with the chosen decision.
 */
import { CookieBrowser, forms, type Page } from './http';

export type SandboxDecision = 'accept' | 'decline' | 'non-admin';

/** Open the approval page for a user code; returns the page and the browser holding the cookies. */
export async function openApproval(
  baseUrl: string,
  userCode: string,
  browser = new CookieBrowser(),
): Promise<{ page: Page; browser: CookieBrowser }> {
  const enter = await browser.get(`${baseUrl}/device`);
  const form = forms(enter.body).find((f) => f.action === '/device');
  if (!form) throw new Error(`no code form on /device (status ${enter.status})`);
  const page = await browser.post(`${baseUrl}/device`, { ...form.fields, user_code: userCode });
  return { page, browser };
}

/** Answer the sandbox's consent page with a decision; returns the page our /oauth renders. */
export async function decideAtSandbox(
  browser: CookieBrowser,
  redirectToSandbox: Page,
  decision: SandboxDecision,
): Promise<Page> {
  if (!redirectToSandbox.location)
    throw new Error(
      `expected a redirect to Webex, got ${redirectToSandbox.status}: ${redirectToSandbox.body.slice(0, 300)}`,
    );
  const consent = await browser.get(redirectToSandbox.location);
  const form = forms(consent.body)[0];
  if (consent.status !== 200 || !form)
    throw new Error(
      `sandbox consent page failed (${consent.status}): ${consent.body.slice(0, 300)}`,
    );
  const action = new URL(form.action, redirectToSandbox.location).toString();
  const back = await browser.post(action, { ...form.fields, decision });
  if (!back.location) throw new Error(`sandbox did not redirect back (${back.status})`);
  return browser.get(new URL(back.location, action).toString());
}

export async function approveHandoff(
  baseUrl: string,
  userCode: string,
  opts: { decision?: SandboxDecision; browser?: CookieBrowser } = {},
): Promise<{ status: number; body: string }> {
  const { page, browser } = await openApproval(baseUrl, userCode, opts.browser);
  const approve = forms(page.body).find((f) => f.action === '/device/approve');
  if (!approve)
    throw new Error(`no approval form (status ${page.status}): ${page.body.slice(0, 300)}`);
  const toWebex = await browser.post(`${baseUrl}/device/approve`, approve.fields);
  const done = await decideAtSandbox(browser, toWebex, opts.decision ?? 'accept');
  return { status: done.status, body: done.body };
}

export async function denyHandoff(
  baseUrl: string,
  userCode: string,
): Promise<{ status: number; body: string }> {
  const { page, browser } = await openApproval(baseUrl, userCode);
  const deny = forms(page.body).find((f) => f.action === '/device/deny');
  if (!deny) throw new Error(`no deny form (status ${page.status})`);
  const done = await browser.post(`${baseUrl}/device/deny`, deny.fields);
  return { status: done.status, body: done.body };
}

/** Start a device authorization with plain HTTP, as curl would. */
export async function requestHandoff(
  baseUrl: string,
  form: Record<string, string> = { client_id: 'cli', scope: 'spark-admin:people_read' },
) {
  const res = await fetch(`${baseUrl}/oauth2/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return {
    status: res.status,
    headers: res.headers,
    json: (await res.json()) as Record<string, unknown>,
  };
}

/** One poll of the token endpoint. */
export async function pollToken(baseUrl: string, form: Record<string, string>) {
  const res = await fetch(`${baseUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      client_id: 'cli',
      ...form,
    }).toString(),
  });
  return {
    status: res.status,
    headers: res.headers,
    json: (await res.json()) as Record<string, unknown>,
  };
}
