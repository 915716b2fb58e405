import Router from '@koa/router';
import type Koa from 'koa';
import { OAuthError } from '../errors';
import type { FlowDeps } from '../flows/context';
import {
  DEVICE_CODE_GRANT,
  type HandoffWaiters,
  authenticateClient,
  createHandoff,
  pollHandoff,
  resolveHandoffScopes,
} from '../flows/device';
import { addressId } from '../flows/rate-limit';
import { clientCredentials, requireForm, single } from './params';

export const DEVICE_AUTHORIZATION_PATH = '/oauth2/device_authorization';
export const TOKEN_PATH = '/oauth2/token';

/**
 * RFC 8628 device authorization and the token endpoint (device_code and refresh_token grants).
 * `readForm` is the app's form-body middleware: this router is mounted ahead of it.
 */
export function tokenRouter(
  deps: FlowDeps & { waiters: HandoffWaiters; readForm: Koa.Middleware },
): Router {
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
    ctx.body = await createHandoff(deps, {
      client,
      scopes,
      address: ctx.ip,
      userAgent: ctx.get('user-agent'),
    });
  });

  router.post('token', TOKEN_PATH, readForm, async (ctx) => {
    const params = requireForm(ctx);
    const grantType = single(params, 'grant_type');
    if (!grantType) throw new OAuthError(400, 'invalid_request', 'grant_type is required.');
    if (grantType === DEVICE_CODE_GRANT) {
      const client = authenticateClient(deps, clientCredentials(ctx, params));
      const deviceCode = single(params, 'device_code');
      if (!deviceCode) throw new OAuthError(400, 'invalid_request', 'device_code is required.');
      ctx.body = await pollHandoff(deps, deps.waiters, {
        deviceCode,
        client,
        waitSeconds: waitSeconds(single(params, 'wait'), config.device.maxWaitSeconds),
      });
      return;
    }
    if (grantType === 'refresh_token') {
      const client = authenticateClient(deps, clientCredentials(ctx, params));
      const refreshToken = single(params, 'refresh_token');
      if (!refreshToken) throw new OAuthError(400, 'invalid_request', 'refresh_token is required.');
      const tokens = await deps.webex.refresh(refreshToken);
      deps.logger.info(
        { event: 'refresh_performed', client: client.id },
        'tokens refreshed through the service',
      );
      ctx.body = tokens;
      return;
    }
    throw new OAuthError(
      400,
      'unsupported_grant_type',
      `This server supports the grant types ${DEVICE_CODE_GRANT} and refresh_token.`,
    );
  });

  return router;
}

function waitSeconds(raw: string | undefined, max: number): number {
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,4}$/.test(raw))
    throw new OAuthError(
      400,
      'invalid_request',
      `wait must be a whole number of seconds (0-${max}).`,
    );
  return Math.min(Number(raw), max);
}
