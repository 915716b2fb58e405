import fs from 'node:fs';
import path from 'node:path';
import Router from '@koa/router';
import type { CliDownloadSource } from '../cli-download';
import type { AppConfig } from '../config';
import { DEVICE_CODE_GRANT } from '../flows/device';
import { TOKEN_EXCHANGE_GRANT } from '../flows/grants/exchange';
import { CLI_DOWNLOAD_PATH } from './cli';
import { DEVICE_AUTHORIZATION_PATH, REVOCATION_PATH, TOKEN_PATH } from './token';

const SERVICE_VERSION: string = (
  JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as {
    version: string;
  }
).version;

/** RFC 8414 authorization server metadata: how scripts discover every machine endpoint. */
export function authorizationServerMetadata(config: AppConfig) {
  return {
    issuer: config.publicUrl,
    device_authorization_endpoint: `${config.publicUrl}${DEVICE_AUTHORIZATION_PATH}`,
    token_endpoint: `${config.publicUrl}${TOKEN_PATH}`,
    // Token exchange (RFC 8693) only when CI issuers are trusted (WORKLOAD_ISSUERS).
    grant_types_supported: [
      DEVICE_CODE_GRANT,
      'refresh_token',
      ...(config.workload.issuers.length > 0 ? [TOKEN_EXCHANGE_GRANT] : []),
    ],
    // No response type: browsers start at the home page, not at an authorization endpoint.
    response_types_supported: [],
    scopes_supported: config.scopesMode === 'static' ? config.staticScopes : config.allowedScopes,
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint: `${config.publicUrl}${REVOCATION_PATH}`,
    revocation_endpoint_auth_methods_supported: [
      'none',
      'client_secret_basic',
      'client_secret_post',
    ],
    service_documentation: `${config.publicUrl}/`,
    webex_scoped_tokens: {
      version: SERVICE_VERSION,
      poll_wait_max_seconds: config.device.maxWaitSeconds,
      scopes_mode: config.scopesMode,
      // managed: refresh tokens are the service's own (wst_rt_…, rotated at each use).
      refresh_tokens: config.grants.refreshTokens,
      verification_uri: `${config.publicUrl}/device`,
    },
  };
}

export function metadataRouter(config: AppConfig, cli: CliDownloadSource): Router {
  const router = new Router();
  const body = authorizationServerMetadata(config);
  router.get('metadata', '/.well-known/oauth-authorization-server', async (ctx) => {
    const download = await cli.get();
    // Only the configuration is in it: caches may keep it (and it may be compressed).
    ctx.set('Cache-Control', 'no-cache');
    ctx.remove('Pragma');
    ctx.body = download
      ? {
          ...body,
          webex_scoped_tokens: {
            ...body.webex_scoped_tokens,
            cli_url: `${config.publicUrl}${CLI_DOWNLOAD_PATH}`,
            cli_sha256: download.sha256,
          },
        }
      : body;
  });
  return router;
}
