// Copies what tsc does not: Pug views and static files, next to the compiled code.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
for (const dir of ['views', 'public']) {
  const from = path.join(root, 'src', dir);
  const to = path.join(root, 'dist', dir);
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    if (name.endsWith('.ts')) continue;
    fs.copyFileSync(path.join(from, name), path.join(to, name));
  }
}
