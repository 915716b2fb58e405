/**
 * Bundles the CLI into one dependency-free file (Node built-ins only) with esbuild, which is a
 * build-time tool: `npm run build` writes it next to the compiled app, and a service run from
 * source (tsx) builds it in memory on first request. Never loaded in production.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const SRC_CLI = path.resolve(__dirname, '..', '..', 'src', 'cli');
const PACKAGE_JSON = path.resolve(__dirname, '..', '..', 'package.json');

/** The bundle's entry: run the CLI and exit with its code, as bin/webex-token.js does. */
const ENTRY = `require('./main').main().then(
  (code) => process.exit(code),
  (err) => {
    console.error('webex-token: unexpected error: ' + (err && err.stack ? err.stack : err));
    process.exit(1);
  },
);`;

export async function bundleCli(): Promise<Buffer> {
  const pkg = JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { version: string };
  const result = await build({
    stdin: { contents: ENTRY, resolveDir: SRC_CLI, sourcefile: 'webex-token-entry.js' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    legalComments: 'inline',
    banner: {
      js: `#!/usr/bin/env node\n// webex-token ${pkg.version}: the webex-scoped-tokens CLI in one file (no dependencies).\n// Usage: node webex-token.js --help`,
    },
    define: { __WEBEX_TOKEN_VERSION__: JSON.stringify(pkg.version) },
    logLevel: 'silent',
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error('esbuild produced no output');
  return Buffer.from(out.contents);
}
