import Router from '@koa/router';
import type Koa from 'koa';
import type { FlowDeps } from '../flows/context';
import {
  authenticateClient,
  createHandoff,
  resolveHandoffScopes,
  verifyRequesterWorkload,
} from '../flows/device';
import { addressId } from '../flows/rate-limit';
import { clientCredentials, requireForm, single } from './params';
import { DEVICE_AUTHORIZATION_PATH } from './token';

/**
 * RFC 8628 §3.1-3.2 device authorization, optionally carrying the CI job's OIDC ID token
 * (`subject_token`, `subject_token_type=urn:ietf:params:oauth:token-type:jwt`), verified before
 * the handoff exists. Mounted ahead of the token router, whose older handler for this path (no
 * subject_token) it shadows until that one is deleted. `readForm` is the app's form-body
 * middleware: this router is mounted ahead of it.
 */
export function deviceAuthorizationRouter(deps: FlowDeps & { readForm: Koa.Middleware }): Router {
  const { config, readForm } = deps;
  const router = new Router();

  router.post('device-authorization', DEVICE_AUTHORIZATION_PATH, readForm, async (ctx) => {
    const params = requireForm(ctx);
    const client = authenticateClient(deps, clientCredentials(ctx, params));
    await deps.limiter.hit(
      {
        name: 'device_authorization',
        limit: config.rateLimit.deviceAuthorizations,
        windowSeconds: config.rateLimit.windowSeconds,
        what: 'device authorization requests',
      },
      addressId(ctx.ip),
    );
    const scopes = resolveHandoffScopes(deps, client, single(params, 'scope') ?? '');
    // Last of the checks, so a typo in the scopes does not use up the job's single-use token.
    const workload = await verifyRequesterWorkload(deps, {
      subjectToken: single(params, 'subject_token'),
      subjectTokenType: single(params, 'subject_token_type'),
    });
    ctx.body = await createHandoff(deps, {
      client,
      scopes,
      address: ctx.ip,
      userAgent: ctx.get('user-agent'),
      workload,
    });
  });

  return router;
}
