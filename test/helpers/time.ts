/**
 * Time in tests: wait for a condition instead of a guessed delay (`until`), and move an injected
 * clock instead of waiting it out (`fakeClock`, `skippingClock`). The one real wait left,
 * `pollIntervalPassed`, is for a gate that runs on Redis's own clock.
 */

export interface UntilOptions {
  /** What is awaited, for the failure message: "the subscriber got 'hello'". */
  what: string;
  /** Give up after this long (default 5 s). */
  timeoutMs?: number;
  /** Pause between two checks (default 10 ms; the first check runs at once). */
  everyMs?: number;
}

/**
 * Resolves with the first truthy value `condition` returns, checking it at once and then every
 * few milliseconds. Fails loudly, naming `what` (and the condition's last error, if it threw),
 * once `timeoutMs` has passed.
 */
export async function until<T>(
  condition: () => T | Promise<T>,
  { what, timeoutMs = 5000, everyMs = 10 }: UntilOptions,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last check threw: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export interface FakeClock {
  /** The clock's time in ms since the epoch: pass `clock.now` where code takes a `now`. */
  now(): number;
  /** Moves the clock `ms` forward; code sees it at its next `now()` (no timer fires). */
  advance(ms: number): void;
}

/** A clock that stands still at `start` until the test advances it. */
export function fakeClock(start: number = Date.now()): FakeClock {
  let time = start;
  return {
    now: () => time,
    advance(ms) {
      time += ms;
    },
  };
}

/**
 * Real time plus what the test skipped: for a whole service, whose other parts (Redis TTLs,
 * poll intervals, timeouts) keep running on real time while the flows' clock jumps ahead.
 * `reset()` takes back every skip.
 */
export function skippingClock(): FakeClock & { reset(): void } {
  let skippedMs = 0;
  return {
    now: () => Date.now() + skippedMs,
    advance(ms) {
      skippedMs += ms;
    },
    reset() {
      skippedMs = 0;
    },
  };
}

/**
 * Waits out a device poll interval of one second (DEVICE_POLL_INTERVAL_SECONDS=1) after the poll
 * sent at `polledAt` (default: just now), so the next poll is not `slow_down`. The interval is a
 * key's TTL in Redis (interval − 250 ms), on Redis's clock, with nothing to observe or advance:
 * this is a real wait, but one that only needs to be long enough, never races anything.
 */
export function pollIntervalPassed(polledAt: number = Date.now()): Promise<void> {
  const left = Math.max(0, polledAt + 1000 - Date.now());
  return new Promise((resolve) => setTimeout(resolve, left));
}
