import Router from '@koa/router';
import type { CliDownloadSource } from '../cli-download';
import { HttpError } from '../errors';

export const CLI_DOWNLOAD_PATH = '/cli/webex-token.js';

/** The one-file CLI, so a CI job needs only Node.js and the service's URL. */
export function cliRouter(source: CliDownloadSource): Router {
  const router = new Router();
  router.get('cli-download', CLI_DOWNLOAD_PATH, async (ctx) => {
    const cli = await source.get();
    if (!cli) {
      throw new HttpError(
        404,
        'not_found',
        'This service has no one-file CLI to offer: it was started from a build without it.',
        {
          title: 'CLI not available here',
          hint: 'Operators: run "npm run build" (it writes dist/cli-bundle/webex-token.js) and restart. Users: install the webex-scoped-tokens package instead (see the README).',
        },
      );
    }
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.set('Content-Disposition', 'attachment; filename="webex-token.js"');
    ctx.body = cli.body;
  });
  return router;
}
