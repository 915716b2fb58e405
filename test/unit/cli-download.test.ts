/**
 * Where /cli/webex-token.js comes from: the file `npm run build` wrote, else (running from
 * source) an in-memory build, else nothing (the route then answers 404 saying what to do).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { cliDownloadSource } from '../../src/cli-download';
import { captureLogger } from '../helpers/server';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wst-cli-download-'));

test('a built file is served as it is, with its SHA-256 in lowercase hex; no build is attempted', async () => {
  const dir = tmp();
  const file = path.join(dir, 'webex-token.js');
  fs.writeFileSync(file, 'console.log("built")\n');
  const source = cliDownloadSource({
    file,
    buildFromSource: () => Promise.reject(new Error('must not build')),
    logger: captureLogger([]),
  });
  const got = await source.get();
  assert.equal(got?.body.toString(), 'console.log("built")\n');
  assert.equal(got?.sha256, crypto.hash('sha256', 'console.log("built")\n', 'hex'));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('no file and no source build: null, and one warning that says to run npm run build', async () => {
  const logs: string[] = [];
  const source = cliDownloadSource({
    file: path.join(tmp(), 'missing.js'),
    logger: captureLogger(logs),
  });
  assert.equal(await source.get(), null);
  assert.equal(await source.get(), null);
  const warnings = logs.filter((l) => l.includes('cli_bundle_missing'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /npm run build/);
});

test('running from source: built once on first use; a failed build is retried on the next request', async () => {
  let builds = 0;
  const source = cliDownloadSource({
    file: path.join(tmp(), 'missing.js'),
    buildFromSource: () => {
      builds++;
      return builds === 1
        ? Promise.reject(new Error('esbuild failed'))
        : Promise.resolve(Buffer.from('bundle'));
    },
    logger: captureLogger([]),
  });
  await assert.rejects(source.get(), /esbuild failed/);
  const [a, b] = await Promise.all([source.get(), source.get()]);
  assert.equal(a?.body.toString(), 'bundle');
  assert.equal(b, a);
  assert.equal(builds, 2);
});
