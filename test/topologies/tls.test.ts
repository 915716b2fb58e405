/**
 * rediss:// with a private CA (REDIS_TLS_CA_FILE) against a real TLS redis-server on loopback,
 * certificates made with openssl in a temp dir. Without the CA the connection is refused.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, test } from '@jest/globals';
import { RedisStore } from '../../src/store/redis';
import { freePort, uniquePrefix } from '../helpers/redis';
import { PASSWORD, until } from './servers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wst-tls-'));
let port = 0;
let stopServer: () => Promise<void> = async () => undefined;

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

beforeAll(async () => {
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=wst test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  ]);
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  ]);
  port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--tls-cert-file',
      'server.crt',
      '--tls-key-file',
      'server.key',
      '--tls-ca-cert-file',
      'ca.crt',
      '--tls-auth-clients',
      'no',
      '--requirepass',
      PASSWORD,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  stopServer = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  await until(() => fs.existsSync(path.join(dir, 'server.crt')) && child.pid, 'redis-server');
});

afterAll(async () => {
  await stopServer();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('rediss:// with REDIS_TLS_CA_FILE reads and writes; the password comes from REDIS_PASSWORD', async () => {
  const store = new RedisStore({
    mode: 'standalone',
    url: `rediss://localhost:${port}`,
    password: PASSWORD,
    tlsCaFile: path.join(dir, 'ca.crt'),
    prefix: uniquePrefix('tls'),
    commandTimeoutMs: 1000,
  });
  try {
    await until(() => store.waitUntilReady(1000), 'the TLS connection', 10_000);
    await store.ping();
    await store.set('k', 'v', 5000, { durable: true });
    assert.equal(await store.get('k'), 'v');
    assert.match(store.describe(), /^Redis standalone reached at 127\.0\.0\.1:\d+$/);
  } finally {
    await store.close();
  }
});

test('rediss:// without the private CA does not connect (the certificate is checked)', async () => {
  const errors: string[] = [];
  const store = new RedisStore({
    mode: 'standalone',
    url: `rediss://:${PASSWORD}@localhost:${port}`,
    prefix: uniquePrefix('tls-no-ca'),
    commandTimeoutMs: 1000,
    onEvent: (event, detail) => event === 'error' && errors.push(detail ?? ''),
  });
  try {
    assert.equal(await store.waitUntilReady(1500), false);
    assert.ok(
      errors.some((e) => /certificate/i.test(e)),
      `a certificate error was reported: ${errors.slice(0, 2).join(' | ')}`,
    );
    await assert.rejects(store.ping(), { name: 'StoreUnavailableError' });
  } finally {
    await store.close();
  }
});
