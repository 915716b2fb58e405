/**
 * The service as a real process (`src/main.ts` through tsx), for what only a process shows:
 * signals, exit codes, crashes. Sandbox Webex, in-memory store and loopback unless `env` says
 * otherwise.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from './redis';

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Its exit code once it exited; undefined while it runs. */
  exitCode(): number | null | undefined;
  exited: Promise<number | null>;
}

/** Every service this test worker started and that still runs. */
const running = new Set<ChildProcess>();
let reaperInstalled = false;

/**
 * A test that fails before it stops its service must not leave the process behind (it would
 * hold its port and CPU after the run): the worker kills what is left when it exits.
 */
function killLeftoversAtExit(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** Starts the service and resolves once it logs that it listens; rejects if it exits first. */
export async function spawnService(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.resolve(__dirname, '../../src/main.ts')],
    {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        SANDBOX: 'true',
        PORT: String(port),
        HOST: '127.0.0.1',
        PUBLIC_URL: url,
        REDIS_URL: '',
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  killLeftoversAtExit();
  running.add(child);
  let output = '';
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      exitCode = code;
      resolve(code);
    }),
  );
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  // Ready when it logs "listening" (an event, not a timer).
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('"event":"listening"')) resolve();
    });
    void exited.then((code) => reject(new Error(`the service exited (${code}):\n${output}`)));
  });
  return { child, url, output: () => output, exitCode: () => exitCode, exited };
}
