/**
 * The part of node:test's test context that tests written for node's runner used, on top of
 * Jest. tools/jest-codemod.mjs wraps a test (or hook) whose function reads its context
 * argument in `withTestContext`, so `t.after(...)`, `t.diagnostic(...)`, `t.name`, `t.signal`
 * and `t.mock` keep working; anything Jest cannot express (subtests, runtime skips, plans)
 * fails loudly instead of silently passing.
 */
import { expect, jest } from '@jest/globals';

type Cleanup = () => unknown;

/** What `mock.timers.enable(...)` took in node:test. */
export interface NodeTimersOptions {
  apis?: Array<'setTimeout' | 'setInterval' | 'setImmediate' | 'Date'>;
  now?: number | Date;
}

const FAKEABLE = {
  setTimeout: ['setTimeout', 'clearTimeout'],
  setInterval: ['setInterval', 'clearInterval'],
  setImmediate: ['setImmediate', 'clearImmediate'],
  Date: ['Date'],
} as const;

type FakeableAPI =
  NonNullable<Parameters<typeof jest.useFakeTimers>[0]> extends infer C
    ? C extends { doNotFake?: ReadonlyArray<infer A> }
      ? A
      : never
    : never;

/**
 * Jest's fake-timer options for node's `mock.timers.enable(options)`: node fakes only the
 * listed APIs, Jest fakes everything it is not told to leave alone.
 */
export function fromNodeTimers(
  options: NodeTimersOptions = {},
): Parameters<typeof jest.useFakeTimers>[0] {
  const all: FakeableAPI[] = [
    'Date',
    'hrtime',
    'nextTick',
    'performance',
    'queueMicrotask',
    'requestAnimationFrame',
    'cancelAnimationFrame',
    'requestIdleCallback',
    'cancelIdleCallback',
    'setImmediate',
    'clearImmediate',
    'setInterval',
    'clearInterval',
    'setTimeout',
    'clearTimeout',
  ];
  const apis = options.apis ?? ['setTimeout', 'setInterval', 'setImmediate', 'Date'];
  const faked = new Set<string>(apis.flatMap((api) => FAKEABLE[api]));
  const now = options.now ?? (apis.includes('Date') ? 0 : undefined);
  return {
    doNotFake: all.filter((api) => !faked.has(api)),
    ...(now === undefined ? {} : { now }),
  };
}

/** node:test's `mock` on top of Jest, for `t.mock` (restored when the test ends). */
function nodeMock() {
  return {
    fn: jest.fn.bind(jest),
    method(object: object, name: string, impl?: (...args: never[]) => unknown) {
      const spy = jest.spyOn(object as Record<string, () => unknown>, name as never);
      if (impl) (spy as jest.Mock).mockImplementation(impl as () => unknown);
      return spy;
    },
    timers: {
      enable: (options?: NodeTimersOptions) => jest.useFakeTimers(fromNodeTimers(options)),
      tick: (ms = 1) => jest.advanceTimersByTime(ms),
      runAll: () => jest.runAllTimers(),
      setTime: (ms: number) => jest.setSystemTime(ms),
      reset: () => jest.useRealTimers(),
    },
    restoreAll: () => jest.restoreAllMocks(),
    reset: () => jest.restoreAllMocks(),
  };
}

/** The members of node's TestContext that exist under Jest. */
export interface TestContext {
  readonly name: string;
  readonly fullName: string;
  readonly signal: AbortSignal;
  readonly mock: ReturnType<typeof nodeMock>;
  after(fn: Cleanup): void;
  diagnostic(message: string): void;
  skip(message?: string): never;
  todo(message?: string): never;
  plan(count: number): never;
  test(...args: unknown[]): never;
}
export type SuiteContext = TestContext;

function unsupported(what: string): never {
  throw new Error(
    `${what} has no Jest equivalent inside a running test: convert this test by hand (see tools/jest-codemod.mjs)`,
  );
}

/**
 * Turns a node:test style function `(t) => ...` into the zero-argument function Jest wants
 * (a Jest test function with a parameter would be taken for a `done` callback).
 */
export function withTestContext(
  fn: (t: TestContext) => unknown,
  opts: { mocks?: boolean } = {},
): () => Promise<void> {
  return async () => {
    const cleanups: Cleanup[] = [];
    const controller = new AbortController();
    const fullName = expect.getState().currentTestName ?? '';
    let mock: ReturnType<typeof nodeMock> | undefined;
    const t: TestContext = {
      // Jest only knows the full name (describe titles and the test's, joined by spaces)
      name: fullName,
      fullName,
      signal: controller.signal,
      get mock() {
        mock ??= nodeMock();
        return mock;
      },
      after: (cleanup) => void cleanups.push(cleanup),
      diagnostic: (message) => console.log(`# ${message}`),
      skip: () => unsupported('t.skip()'),
      todo: () => unsupported('t.todo()'),
      plan: () => unsupported('t.plan()'),
      test: () => unsupported('t.test() (a subtest)'),
    };
    let failure: unknown;
    try {
      await fn(t);
    } catch (err) {
      failure = err;
    }
    controller.abort();
    // node:test runs a test's after() hooks in the order they were added, even when it failed.
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (err) {
        failure ??= err;
      }
    }
    if (mock || opts.mocks) {
      jest.restoreAllMocks();
      jest.useRealTimers();
    }
    if (failure !== undefined) throw failure;
  };
}
