/**
 * Pages that depend only on the configuration (the home page in either scope mode, the static
 * error pages), rendered once and kept compressed (src/middleware/precompressed.ts). Nothing
 * per request may go into a cached page: no CSRF token, no cookie, no user input.
 */
import { represent, type Representation } from '../middleware/precompressed';
import type { Locals } from './views';

export const HTML = 'text/html; charset=utf-8';

export interface PageCache {
  /**
   * The page `view` rendered with `locals`, under `key` (which names everything the locals
   * depend on); rendered and compressed on first use, then the same bytes every time.
   */
  get(key: string, view: string, locals: Locals): Promise<Representation>;
}

/**
 * `keep: false` (development) renders every time, so an edited template shows at once. Past
 * `maxEntries` keys, pages are rendered without being kept: the keys come from a fixed set
 * (presets, error texts), and the bound only guards against a mistake that would let a
 * request choose them.
 */
export function pageCache(
  render: (view: string, locals: Locals) => Promise<string>,
  opts: { keep: boolean; maxEntries?: number },
): PageCache {
  const kept = new Map<string, Promise<Representation>>();
  const maxEntries = opts.maxEntries ?? 64;
  const build = async (view: string, locals: Locals) => represent(await render(view, locals), HTML);
  return {
    get(key, view, locals) {
      const found = kept.get(key);
      if (found) return found;
      const made = build(view, locals);
      if (!opts.keep || kept.size >= maxEntries) return made;
      kept.set(key, made);
      // A failed render is retried on the next request rather than remembered.
      made.catch(() => kept.delete(key));
      return made;
    },
  };
}
