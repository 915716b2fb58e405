/** test/helpers/jest-context.ts: node:test's context and timers for converted tests. */
import assert from 'node:assert/strict';
import { jest, test } from '@jest/globals';
import { fromNodeTimers, withTestContext } from '../helpers/jest-context';

test('t.after runs after the body, in order, also when the body fails; the error is kept', async () => {
  const seen: string[] = [];
  const run = withTestContext((t) => {
    t.after(() => void seen.push('first'));
    t.after(() => void seen.push('second'));
    seen.push('body');
    throw new Error('boom');
  });
  await assert.rejects(run(), /boom/);
  assert.deepEqual(seen, ['body', 'first', 'second']);
});

test('t.test and t.skip fail loudly instead of passing unnoticed', async () => {
  await assert.rejects(
    withTestContext((t) => t.test('sub')),
    /no Jest equivalent/,
  );
  await assert.rejects(withTestContext((t) => t.skip())(), /t\.skip\(\) has no Jest equivalent/);
});

test('mock.timers.enable({ apis: ["setTimeout"] }) fakes setTimeout and leaves Date alone', () => {
  const RealDate = globalThis.Date;
  jest.useFakeTimers(fromNodeTimers({ apis: ['setTimeout'] }));
  try {
    let fired = false;
    setTimeout(() => (fired = true), 1000);
    jest.advanceTimersByTime(999);
    assert.equal(fired, false);
    jest.advanceTimersByTime(1);
    assert.equal(fired, true);
    assert.equal(globalThis.Date, RealDate, 'Date is not faked');
  } finally {
    jest.useRealTimers();
  }
});
