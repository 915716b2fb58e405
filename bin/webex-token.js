#!/usr/bin/env node
'use strict';
// webex-token: runs the compiled CLI (dist/) when it has been built, otherwise the
// TypeScript source through tsx (a checkout without `npm run build`).
const fs = require('node:fs');
const path = require('node:path');

const built = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
let cli;
if (fs.existsSync(built)) {
  cli = require(built);
} else {
  try {
    require.resolve('tsx/cjs');
  } catch {
    console.error(
      'webex-token: not built: run "npm run build" (or "npm ci" to get tsx and run from source)',
    );
    process.exit(2);
  }
  require('tsx/cjs');
  cli = require(path.join(__dirname, '..', 'src', 'cli', 'main.ts'));
}

cli.main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`webex-token: unexpected error: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
