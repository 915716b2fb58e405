// Writes the one-file CLI the service serves at /cli/webex-token.js (after tsc: it uses
// dist/cli/bundle.js, so the bundle options live in one place).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(import.meta.url);
const { bundleCli } = require(path.join(root, 'dist', 'cli', 'bundle.js'));
const out = path.join(root, 'dist', 'cli-bundle', 'webex-token.js');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, await bundleCli(), { mode: 0o755 });
