/**
 * The one way pages are rendered: koa-views over the Pug templates in this folder, as
 * `await ctx.render(view, locals)` (pages, error pages and the sandbox alike).
 */
import type Koa from 'koa';
import views from 'koa-views';

export type Locals = Record<string, unknown>;

export interface ViewSettings {
  /** The pages say they are talking to the simulated Webex. */
  sandbox: boolean;
  /**
   * Keep each compiled template (Pug's own cache, keyed by file). On everywhere but
   * development, where an edited template shows on the next request.
   */
  cache: boolean;
  /**
   * The URL of a file of src/public by its plain name (`asset('app.css')`): the content-hashed
   * name the static middleware serves with immutable caching. Without it, the plain name.
   */
  asset?: (name: string) => string;
}

const plainAsset = (name: string) => `/static/${name}`;

/** What every template sees, under the locals of the render call. */
function engineOptions(settings: ViewSettings) {
  return {
    extension: 'pug',
    options: {
      basedir: __dirname,
      cache: settings.cache,
      sandbox: settings.sandbox,
      asset: settings.asset ?? plainAsset,
    },
  };
}

/** The cache rule for an app: compiled templates are kept unless NODE_ENV=development. */
export function viewSettings(
  config: { env: string; sandbox: boolean },
  asset?: (name: string) => string,
): ViewSettings {
  return { sandbox: config.sandbox, cache: config.env !== 'development', asset };
}

/** Middleware that gives `ctx.render(view, locals)`; it sets the body and the HTML type. */
export function renderViews(settings: ViewSettings): Koa.Middleware {
  return views(__dirname, engineOptions(settings));
}

/**
 * The same rendering as `ctx.render`, to a string and outside a request (the benchmark). Called
 * without a context, koa-views' middleware factory hands out its render function.
 */
export function viewRenderer(
  settings: ViewSettings,
): (view: string, locals?: Locals) => Promise<string> {
  const factory = views(__dirname, {
    ...engineOptions(settings),
    autoRender: false,
  }) as unknown as () => (this: object, view: string, locals?: Locals) => Promise<string>;
  const render = factory();
  return (view, locals = {}) => render.call({ state: {} }, view, locals);
}
