import Router from '@koa/router';
import { HttpError } from '../errors';
import { startAuthorization } from '../flows/browser';
import type { CliDownloadSource } from '../cli-download';
import type { FlowDeps } from '../flows/context';
import { addressId } from '../flows/rate-limit';
import { ensureBrowserId } from '../middleware/browser-id';
import { sendRepresentation } from '../middleware/precompressed';
import type { PageCache } from '../views/page-cache';
import {
  checkRequestedScopes,
  describeScope,
  groupScopes,
  identityScopeFor,
  presetsFor,
} from '../webex/scopes';

/**
 * The home page changes only with the configuration (and the CLI's hash): browsers keep it
 * and revalidate with its ETag on every visit (a 304 when nothing changed).
 */
const HOME_CACHE = 'no-cache';

/**
 * Home page (dynamic catalog or static list) and /start, which sends the browser to Webex.
 * The home page is rendered once per preset (it carries nothing per request: the browser
 * cookie is set by /start) and kept compressed in `deps.pages`.
 */
export function pagesRouter(
  deps: FlowDeps & { cliDownload: CliDownloadSource; pages: PageCache },
): Router {
  const { config } = deps;
  const router = new Router();
  const offered = config.scopesMode === 'static' ? config.staticScopes : config.allowedScopes;
  const groups = groupScopes(offered);
  const presets = presetsFor(offered);

  const url = config.publicUrl;
  // Dynamic mode needs a scope; static mode grants its fixed list whatever is asked.
  const exampleScope =
    config.scopesMode === 'static'
      ? ''
      : ` --scope "${offered.includes('spark:people_read') ? 'spark:people_read' : (offered[0] ?? '')}"`;
  const cliCommand = `curl -fsSLo webex-token.js "${url}/cli/webex-token.js" && node webex-token.js login --server ${url}${exampleScope} --format env`;

  router.get('home', '/', async (ctx) => {
    const download = await deps.cliDownload.get().catch(() => null);
    const cli = { command: cliCommand, sha256: download?.sha256 ?? null };
    if (config.scopesMode === 'static') {
      const page = await deps.pages.get(`home:static:${cli.sha256}`, 'static', {
        scopes: config.staticScopes.map(describeScope),
        identityScope: identityScopeFor(config.identityScope, config.staticScopes),
        cli,
      });
      sendRepresentation(ctx, page, HOME_CACHE);
      return;
    }
    const presetId = typeof ctx.query.preset === 'string' ? ctx.query.preset : '';
    // Only a known preset changes the page, so the keys are the presets (plus none).
    const preset = presets.find((p) => p.id === presetId);
    const page = await deps.pages.get(`home:dynamic:${preset?.id ?? ''}:${cli.sha256}`, 'home', {
      groups,
      presets,
      selected: preset?.scopes ?? [],
      selectedPreset: preset?.id ?? null,
      cli,
      identityScope: config.identityScope,
    });
    sendRepresentation(ctx, page, HOME_CACHE);
  });

  router.get('start', '/start', async (ctx) => {
    const raw = ctx.query.scope;
    const requested = (Array.isArray(raw) ? raw : [raw ?? '']).join(' ');
    const scopes = allowedScopesFor(deps, requested);
    await deps.limiter.hit(
      {
        name: 'start',
        limit: config.rateLimit.starts,
        windowSeconds: config.rateLimit.windowSeconds,
        what: 'sign-ins',
      },
      addressId(ctx.ip),
    );
    const browserId = ensureBrowserId(ctx, config);
    ctx.redirect(await startAuthorization(deps, { kind: 'browser', scopes, browserId }));
  });

  return router;
}

function allowedScopesFor(deps: FlowDeps, requested: string): string[] {
  const { config } = deps;
  const allowed = config.scopesMode === 'static' ? config.staticScopes : config.allowedScopes;
  const check = checkRequestedScopes(requested, allowed);
  if (check.problems.length > 0) {
    throw new HttpError(
      400,
      'invalid_scope',
      'Some of the requested scopes cannot be issued by this service.',
      {
        title: 'Scopes not available',
        details: check.problems.map((p) => `${p.scope.slice(0, 100)} ${p.reason}`),
        hint:
          config.scopesMode === 'static'
            ? 'This service issues a fixed set of scopes; start from the home page.'
            : 'Go back to the home page and pick from the list.',
      },
    );
  }
  if (config.scopesMode === 'static') return config.staticScopes;
  if (check.ok.length === 0) {
    throw new HttpError(400, 'invalid_scope', 'No scope was selected.', {
      title: 'Pick at least one scope',
      hint: 'Go back to the home page, tick the scopes you need (or a preset), then press Start.',
    });
  }
  return check.ok;
}
