import Router from '@koa/router';
import type Koa from 'koa';
import { invalidRequest, unsupportedGrantType } from '../errors';
import type { FlowDeps } from '../flows/context';
import {
  DEVICE_CODE_GRANT,
  type HandoffWaiters,
  authenticateClient,
  pollHandoff,
} from '../flows/device';
import { refreshGrant } from '../flows/grants';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, exchangeToken } from '../flows/grants/exchange';
import { DEFAULT_REVOKERS, type Revoker, revokeToken } from '../flows/revocation';
import { clientCredentials, requireForm, single } from './params';

export const DEVICE_AUTHORIZATION_PATH = '/oauth2/device_authorization';
export const TOKEN_PATH = '/oauth2/token';
export const REVOCATION_PATH = '/oauth2/revoke';

/**
 * The token endpoint (device_code and refresh_token grants,
 * and RFC 8693 token exchange of CI jobs' ID tokens when WORKLOAD_ISSUERS is set).
 * `readForm` is the app's form-body middleware: this router is mounted ahead of it.
 */
export function tokenRouter(
  deps: FlowDeps & {
    waiters: HandoffWaiters;
    readForm: Koa.Middleware;
    revokers?: readonly Revoker[];
  },
): Router {
  const { config, readForm } = deps;
  const router = new Router();

  router.post('token', TOKEN_PATH, readForm, async (ctx) => {
    const params = requireForm(ctx);
    const grantType = single(params, 'grant_type');
    if (!grantType) throw invalidRequest('grant_type is required.');
    if (grantType === DEVICE_CODE_GRANT) {
      const client = authenticateClient(deps, clientCredentials(ctx, params));
      const deviceCode = single(params, 'device_code');
      if (!deviceCode) throw invalidRequest('device_code is required.');
      const delivery = await pollHandoff(deps, deps.waiters, {
        deviceCode,
        client,
        waitSeconds: waitSeconds(single(params, 'wait'), config.device.maxWaitSeconds),
      });
      // Who approved travels in the service's namespaced extension, beside the RFC fields.
      ctx.body = {
        ...delivery.tokens,
        webex_scoped_tokens: { approved_by: delivery.approver, grant_id: delivery.grantId },
      };
      return;
    }
    if (grantType === 'refresh_token') {
      const client = authenticateClient(deps, clientCredentials(ctx, params));
      const refreshToken = single(params, 'refresh_token');
      if (!refreshToken) throw invalidRequest('refresh_token is required.');
      const answer = await refreshGrant(deps, {
        token: refreshToken,
        client,
        address: ctx.ip,
        userAgent: ctx.get('user-agent'),
        freshAccessToken: freshAccessToken(single(params, 'fresh_access_token')),
      });
      ctx.body = { ...answer.tokens, webex_scoped_tokens: { grant_id: answer.grantId } };
      return;
    }
    if (grantType === TOKEN_EXCHANGE_GRANT && deps.workload.enabled) {
      const client = authenticateClient(deps, clientCredentials(ctx, params));
      const requested = single(params, 'requested_token_type');
      if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
        throw invalidRequest(`requested_token_type can only be ${ACCESS_TOKEN_TYPE}.`);
      }
      if (single(params, 'actor_token') !== undefined) {
        throw invalidRequest("actor_token is not supported: present the job's ID token alone.");
      }
      const answer = await exchangeToken(deps, {
        client,
        subjectToken: single(params, 'subject_token'),
        subjectTokenType: single(params, 'subject_token_type'),
        scope: single(params, 'scope'),
        address: ctx.ip,
      });
      ctx.body = { ...answer.tokens, webex_scoped_tokens: { grant_id: answer.grantId } };
      return;
    }
    const supported = [DEVICE_CODE_GRANT, 'refresh_token'];
    if (deps.workload.enabled) supported.push(TOKEN_EXCHANGE_GRANT);
    throw unsupportedGrantType(
      `This server supports the grant types ${supported.join(', ')}.${
        grantType === TOKEN_EXCHANGE_GRANT
          ? ' Token exchange needs trusted CI issuers (WORKLOAD_ISSUERS), which are not configured.'
          : ''
      }`,
    );
  });

  // RFC 7009: client authentication as at the token endpoint; 200 whether or not the token
  // was known, so the answer reveals nothing.
  router.post('revocation', REVOCATION_PATH, readForm, async (ctx) => {
    const params = requireForm(ctx);
    const client = authenticateClient(deps, clientCredentials(ctx, params));
    const token = single(params, 'token');
    if (!token) throw invalidRequest('token is required.');
    await revokeToken(deps, deps.revokers ?? DEFAULT_REVOKERS, {
      token,
      hint: single(params, 'token_type_hint'),
      client,
      address: ctx.ip,
    });
    ctx.status = 200;
    ctx.body = '';
  });

  return router;
}

/** `fresh_access_token=true`: ask Webex for a new access token even if the stored one is young. */
function freshAccessToken(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw invalidRequest('fresh_access_token must be true or false.');
}

function waitSeconds(raw: string | undefined, max: number): number {
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,4}$/.test(raw))
    throw invalidRequest(`wait must be a whole number of seconds (0-${max}).`);
  return Math.min(Number(raw), max);
}
