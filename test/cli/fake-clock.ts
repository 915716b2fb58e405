/** The CLI's Clock for tests: time moves only when the CLI sleeps, and every sleep is recorded. */
import { Interrupted } from '../../src/cli/errors';
import type { Clock } from '../../src/cli/http';

export class FakeClock implements Clock {
  t = Date.parse('2030-01-01T00:00:00Z');
  readonly slept: number[] = [];
  now(): number {
    return this.t;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new Interrupted();
    this.slept.push(ms);
    this.t += Math.max(0, ms);
    if (signal?.aborted) throw new Interrupted();
  }
}
