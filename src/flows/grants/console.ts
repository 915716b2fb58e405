/**
 * The grants console's sign-in session: who signed in with Webex, kept for a short while so
 * that the table, the confirmation and the revocation need no new sign-in each. The browser
 * holds only a random session id (HttpOnly cookie); the store holds the viewer, sealed, under
 * a keyed hash of that id. No Webex token is kept: the console only needed people/me.
 */
import { randomToken, safeEqual } from '../../crypto';
import { HttpError } from '../../errors';
import type { WebexPerson } from '../../webex/client';
import type { FlowDeps } from '../context';
import type { Viewer } from './index';

/** Long enough to review and revoke a few grants, short enough that a forgotten tab expires. */
export const CONSOLE_SESSION_MS = 30 * 60 * 1000;

/** The scope the console asks of Webex: enough for people/me, nothing else. */
export const CONSOLE_SCOPES = ['spark:people_read'];

export interface ConsoleSession {
  viewer: Viewer;
  name: string | null;
  createdAt: number;
  expiresAt: number;
}

const sessionKey = (deps: FlowDeps, id: string) =>
  `console:${deps.sealer.hasher.digest('console-session', id)}`;

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

function isSessionId(id: string | undefined): id is string {
  return typeof id === 'string' && SESSION_ID.test(id);
}

/**
 * After the console's Webex sign-in: a new session for the person people/me named. Refused
 * when Webex did not say who signed in (nothing could be shown to an unknown person).
 */
export async function openConsoleSession(
  deps: FlowDeps,
  person: WebexPerson | null,
  address: string,
): Promise<{ id: string; session: ConsoleSession }> {
  const email = person?.emails?.[0];
  if (!person || !email) {
    throw new HttpError(
      502,
      'identity_unknown',
      'Webex did not tell us who signed in (reading your profile failed), so the console cannot show which grants are yours.',
      {
        title: 'Sign-in not finished',
        hint: 'Sign in again in a minute; if it keeps happening, the operators should check that spark:people_read is ticked on the integration.',
        expose: true,
      },
    );
  }
  const now = deps.now();
  const session: ConsoleSession = {
    viewer: { email: email.trim().toLowerCase(), orgId: person.orgId ?? null },
    name: person.displayName ?? null,
    createdAt: now,
    expiresAt: now + CONSOLE_SESSION_MS,
  };
  const id = randomToken(32);
  const key = sessionKey(deps, id);
  await deps.store.set(key, deps.sealer.seal(JSON.stringify(session), key), CONSOLE_SESSION_MS);
  deps.logger.info(
    {
      event: 'console_signed_in',
      email: session.viewer.email,
      orgId: session.viewer.orgId,
      address,
    },
    'signed in to the grants console',
  );
  return { id, session };
}

/** The live session for a cookie value; null when absent, expired or unreadable. */
export async function readConsoleSession(
  deps: FlowDeps,
  id: string | undefined,
): Promise<ConsoleSession | null> {
  if (!isSessionId(id)) return null;
  const key = sessionKey(deps, id);
  const sealed = await deps.store.get(key);
  if (!sealed) return null;
  try {
    const session = JSON.parse(deps.sealer.open(sealed, key)) as ConsoleSession;
    return session.expiresAt > deps.now() ? session : null;
  } catch {
    return null;
  }
}

export async function closeConsoleSession(deps: FlowDeps, id: string | undefined): Promise<void> {
  if (isSessionId(id)) await deps.store.delete(sessionKey(deps, id));
}

/** The console forms' CSRF token: a keyed hash of the session id, never the id itself. */
export function consoleCsrfToken(deps: FlowDeps, sessionId: string): string {
  return deps.sealer.hasher.digest('console-csrf', sessionId);
}

export function checkConsoleCsrf(
  deps: FlowDeps,
  sessionId: string | undefined,
  token: string | undefined,
): void {
  if (!isSessionId(sessionId) || !token || !safeEqual(consoleCsrfToken(deps, sessionId), token)) {
    throw new HttpError(
      403,
      'csrf',
      'This form was not submitted from the grants console page we showed you (its security token is missing or wrong), so nothing was changed.',
      {
        title: 'Request not accepted',
        hint: 'Open the grants console again, sign in if asked, and use its buttons. Cookies must be enabled.',
      },
    );
  }
}
