/**
 * The one-file CLI the service offers at /cli/webex-token.js, and its SHA-256 (published in the
 * metadata and on the home page so a CI job can pin it). A built service reads the file that
 * `npm run build` wrote; a service run from source builds it in memory on first use, so the
 * demo and the tests serve exactly what the source says.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './logger';

export interface CliDownload {
  body: Buffer;
  /** Lowercase hex. */
  sha256: string;
}

export interface CliDownloadSource {
  /** The file, or null when this service has none (then /cli/webex-token.js answers 404). */
  get(): Promise<CliDownload | null>;
}

export function cliDownloadSource(opts: {
  /** Where `npm run build` wrote the bundle. */
  file: string;
  /** Builds the bundle when the file is missing (only when running from source). */
  buildFromSource?: () => Promise<Buffer>;
  logger: Logger;
}): CliDownloadSource {
  let loading: Promise<CliDownload | null> | undefined;
  const load = async (): Promise<CliDownload | null> => {
    let body: Buffer | null = null;
    try {
      body = await fs.promises.readFile(opts.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (body === null && opts.buildFromSource) {
      body = await opts.buildFromSource();
      opts.logger.info(
        { event: 'cli_bundle_built', bytes: body.length },
        'built the one-file CLI from source (no dist/cli-bundle; running from source)',
      );
    }
    if (body === null) {
      opts.logger.warn(
        { event: 'cli_bundle_missing', file: opts.file },
        'no one-file CLI to serve: run "npm run build"',
      );
      return null;
    }
    return { body, sha256: crypto.hash('sha256', body, 'hex') };
  };
  return {
    get() {
      // A failed build is retried on the next request rather than remembered.
      loading ??= load().catch((err: unknown) => {
        loading = undefined;
        throw err;
      });
      return loading;
    },
  };
}

/**
 * One in-memory build per process from source: the source does not change under a running
 * process (tsx watch restarts it), and tests start many apps in one process.
 */
let sourceBuild: Promise<Buffer> | undefined;
function buildOnceFromSource(): Promise<Buffer> {
  sourceBuild ??= (() => {
    // Loaded only here: esbuild is a dev dependency, absent from production installs.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { bundleCli } = require('./cli/bundle') as typeof import('./cli/bundle');
    return bundleCli();
  })().catch((err: unknown) => {
    sourceBuild = undefined;
    throw err;
  });
  return sourceBuild;
}

/** The default: dist/cli-bundle next to the compiled app, or an in-memory build under tsx. */
export function defaultCliDownloadSource(logger: Logger): CliDownloadSource {
  const fromSource = path.extname(__filename) === '.ts';
  return cliDownloadSource({
    file: path.join(__dirname, 'cli-bundle', 'webex-token.js'),
    buildFromSource: fromSource ? buildOnceFromSource : undefined,
    logger,
  });
}
