import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from '@jest/globals';
import { describeFatal, installLastResort, scrubMessage } from '../../src/last-resort';

function harness() {
  const proc = new EventEmitter();
  const logged: { obj: Record<string, unknown>; msg: string }[] = [];
  const exits: number[] = [];
  let shutdowns = 0;
  let finishShutdown!: () => void;
  const shutdownDone = new Promise<void>((r) => (finishShutdown = r));
  let exited!: () => void;
  const exitCalled = new Promise<void>((r) => (exited = r));
  installLastResort({
    proc,
    logger: {
      fatal: ((obj: Record<string, unknown>, msg: string) => logged.push({ obj, msg })) as never,
      flush: (() => undefined) as never,
    },
    shutdown: () => {
      shutdowns++;
      return shutdownDone;
    },
    exit: (code) => {
      exits.push(code);
      exited();
    },
    hardStopMs: 60_000,
  });
  return { proc, logged, exits, shutdowns: () => shutdowns, finishShutdown, exitCalled };
}

test('an uncaught exception is logged without secrets, drains once, then exits 1', async () => {
  const h = harness();
  const token = 'ZDI3MGEyYzQtNmFlNS00NDNhLWFlNzAtZGVhMjVkMGUzN2EyZmI4_P0A1';
  h.proc.emit(
    'uncaughtException',
    Object.assign(new Error(`bad token ${token}`), { code: 'Z_BUF_ERROR' }),
  );
  h.proc.emit('unhandledRejection', new Error('a second one while draining'));
  assert.equal(h.shutdowns(), 1, 'one graceful shutdown, however many errors');
  assert.deepEqual(h.exits, [], 'in-flight requests get their drain before the exit');
  h.finishShutdown();
  await h.exitCalled;
  assert.deepEqual(h.exits, [1]);
  assert.equal(h.logged.length, 2);
  const first = h.logged[0]!;
  const text = JSON.stringify(first);
  assert.ok(!text.includes(token), 'the token in the message is not logged');
  assert.match(text, /bad token \[redacted\]/);
  assert.equal((first.obj.error as { errorCode: string }).errorCode, 'Z_BUF_ERROR');
  assert.equal(first.obj.kind, 'uncaughtException');
  assert.ok((first.obj.error as { frames: string[] }).frames[0]!.startsWith('at '));
  assert.equal(h.logged[1]!.obj.kind, 'unhandledRejection');
});

test('describeFatal handles non-Error rejections; scrubMessage keeps ordinary words', () => {
  assert.deepEqual(describeFatal('plain string'), {
    name: 'string',
    message: 'plain string',
    frames: [],
  });
  assert.equal(scrubMessage('unexpected end of file'), 'unexpected end of file');
  assert.equal(scrubMessage('x'.repeat(1000)).length, '[redacted]'.length);
});
