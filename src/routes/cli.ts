import Router from '@koa/router';
import type { CliDownloadSource } from '../cli-download';
import { HttpError } from '../errors';
import { represent, sendRepresentation, type Representation } from '../middleware/precompressed';

export const CLI_DOWNLOAD_PATH = '/cli/webex-token.js';

/** The one-file CLI, so a CI job needs only Node.js and the service's URL. */
export function cliRouter(source: CliDownloadSource): Router {
  const router = new Router();
  // The file does not change under a running process: compressed once, like public/.
  let kept: { sha256: string; representation: Promise<Representation> } | undefined;
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
    if (kept?.sha256 !== cli.sha256) {
      kept = {
        sha256: cli.sha256,
        representation: represent(cli.body, 'application/javascript; charset=utf-8'),
      };
    }
    ctx.set('Content-Disposition', 'attachment; filename="webex-token.js"');
    sendRepresentation(ctx, await kept.representation, 'no-cache');
  });
  return router;
}
