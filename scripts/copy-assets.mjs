// Copies what tsc does not: Pug views and static files, next to the compiled code.
// `node scripts/copy-assets.mjs [ROOT] [OUT]`: from ROOT/src (default: this checkout) into OUT
// (default: ROOT/dist). The bench uses it for its private builds, so there is one copy rule.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(
  process.argv[2] ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..'),
);
const out = path.resolve(process.argv[3] ?? path.join(root, 'dist'));
for (const dir of ['views', 'public']) {
  const from = path.join(root, 'src', dir);
  const to = path.join(out, dir);
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    if (name.endsWith('.ts')) continue;
    fs.copyFileSync(path.join(from, name), path.join(to, name));
  }
}
