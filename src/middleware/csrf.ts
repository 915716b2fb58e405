/**
 * The verification pages' CSRF token: a keyed hash of the browser-id cookie, so the Approve,
 * Deny and code-entry forms only work when posted from a page this service rendered.
 */
import { safeEqual } from '../crypto';
import { HttpError } from '../errors';
import type { FlowDeps } from '../flows/context';

export function csrfTokenFor(deps: Pick<FlowDeps, 'sealer'>, browserId: string): string {
  return deps.sealer.hasher.digest('csrf', browserId);
}

export function checkCsrf(
  deps: Pick<FlowDeps, 'sealer'>,
  browserId: string | undefined,
  token: string | undefined,
): void {
  if (!browserId || !token || !safeEqual(csrfTokenFor(deps, browserId), token)) {
    throw new HttpError(
      403,
      'csrf',
      'This form was not submitted from the page we showed you (its security token is missing or wrong).',
      {
        title: 'Request not accepted',
        hint: 'Go back to the verification page, reload it, and use its buttons. Cookies must be enabled.',
      },
    );
  }
}
