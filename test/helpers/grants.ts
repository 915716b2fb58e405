/**
 * Grants from a script's side: get tokens through a whole handoff (request, an admin approves
 * over HTTP, one poll), refresh them, and read the audit lines the service wrote.
 */
import assert from 'node:assert/strict';
import { approveHandoff, pollToken, requestHandoff } from './admin';

export interface Client {
  client_id: string;
  client_secret?: string;
}

export const CLI: Client = { client_id: 'cli' };

/**
 * Limits for a test server that plays many handoffs from 127.0.0.1: every code entered counts
 * against the address, right ones included.
 */
export const MANY_HANDOFFS = {
  RATE_LIMIT_DEVICE_AUTHORIZATIONS: '1000',
  RATE_LIMIT_USER_CODE_FAILURES: '1000',
};

export interface TokenAnswer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

/** Request, approve and pick up a handoff; returns the token endpoint's 200 answer. */
export async function deliveredTokens(
  url: string,
  opts: { client?: Client; scope?: string } = {},
): Promise<Record<string, unknown>> {
  const client = opts.client ?? CLI;
  const auth = await requestHandoff(url, {
    ...client,
    scope: opts.scope ?? 'spark-admin:people_read',
  });
  assert.equal(auth.status, 200, JSON.stringify(auth.json));
  const done = await approveHandoff(url, String(auth.json.user_code));
  assert.equal(done.status, 200, done.body.slice(0, 300));
  const tokens = await pollToken(url, { ...client, device_code: String(auth.json.device_code) });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  return tokens.json;
}

/** One refresh_token grant at the token endpoint. */
export async function refresh(
  url: string,
  refreshToken: string,
  opts: { client?: Client; extra?: Record<string, string> } = {},
): Promise<TokenAnswer> {
  const res = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      ...(opts.client ?? CLI),
      ...opts.extra,
    }).toString(),
  });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, headers: res.headers, json };
}

/** The service's audit lines with `event`, parsed. */
export function events(logs: readonly string[], event: string): Record<string, unknown>[] {
  return logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === event);
}

export const SERVICE_TOKEN = /^wst_rt_[A-Za-z0-9_-]{43}$/;
