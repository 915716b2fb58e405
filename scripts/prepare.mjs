// npm's `prepare` hook. In a checkout it does nothing (development runs from source through
// tsx, and `npm ci` stays fast). When npm installs the package from a git URL it prepares a
// clone, running only `prepare` (not `prepack`): then build, so the installed package has
// dist/ and its `webex-token` runs without dev tools.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
// Set by npm's git-dependency preparation (pacote): the install in the clone, then its packing.
const fromGit =
  process.env._PACOTE_NO_PREPARE_ !== undefined || process.env.npm_package_resolved !== undefined;
const built = fs.existsSync(path.join(root, 'dist', 'cli-bundle', 'webex-token.js'));
if (fromGit && !built) execSync('npm run build', { cwd: root, stdio: 'inherit' });
