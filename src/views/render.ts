import path from 'node:path';
import pug from 'pug';

export type Locals = Record<string, unknown>;

/** Renders Pug views from this folder, each compiled once and kept. */
export class Views {
  private readonly cache = new Map<string, pug.compileTemplate>();

  constructor(
    private readonly globals: Locals,
    private readonly dir: string = __dirname,
  ) {}

  render(name: string, locals: Locals = {}): string {
    let fn = this.cache.get(name);
    if (!fn) {
      fn = pug.compileFile(path.join(this.dir, `${name}.pug`), { basedir: this.dir });
      this.cache.set(name, fn);
    }
    return fn({ ...this.globals, ...locals });
  }
}
