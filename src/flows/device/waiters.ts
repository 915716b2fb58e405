import { HANDOFF_CHANNEL, type RecordDeps, handoffKey, openHandoff } from './handoff';

/**
 * Lets waiting polls sleep until their handoff changes. One store subscription per process,
 * however many polls wait; approvals on any replica wake them.
 */
export class HandoffWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private subscription: Promise<unknown> | undefined;
  private closed = false;

  constructor(private readonly deps: RecordDeps) {}

  private ensureSubscribed(): Promise<unknown> {
    this.subscription ??= this.deps.store
      .subscribe(
        HANDOFF_CHANNEL,
        (handoffId) => this.wake(handoffId),
        () => void this.recheck(),
      )
      .catch((err: unknown) => {
        this.subscription = undefined;
        throw err;
      });
    return this.subscription;
  }

  private wake(handoffId: string): void {
    const set = this.waiting.get(handoffId);
    if (!set) return;
    this.waiting.delete(handoffId);
    for (const fn of set) fn();
  }

  /**
   * The subscription came back after a break (a Redis failover): a wake-up sent meanwhile was
   * lost, so read every waited-on handoff once and wake those no longer pending.
   */
  private async recheck(): Promise<void> {
    const handoffIds = [...this.waiting.keys()];
    if (handoffIds.length === 0) return;
    const raws = await this.deps.store.getMany(handoffIds.map(handoffKey)).catch(() => null);
    if (!raws) return;
    handoffIds.forEach((handoffId, i) => {
      if (openHandoff(this.deps, handoffId, raws[i])?.status !== 'pending') this.wake(handoffId);
    });
  }

  /** Resolve after a change to the handoff, after `ms`, or at shutdown, whichever comes first. */
  async register(
    handoffId: string,
  ): Promise<{ wait: (ms: number) => Promise<void>; cancel: () => void }> {
    await this.ensureSubscribed();
    let done: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => (done = resolve));
    const set = this.waiting.get(handoffId) ?? new Set();
    set.add(done);
    this.waiting.set(handoffId, set);
    const cancel = () => {
      const waiting = this.waiting.get(handoffId);
      waiting?.delete(done);
      if (waiting && waiting.size === 0) this.waiting.delete(handoffId);
      done();
    };
    return {
      wait: (ms: number) => {
        if (this.closed) return Promise.resolve();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
        return Promise.race([woken, timeout]).finally(() => {
          clearTimeout(timer);
          cancel();
        });
      },
      cancel,
    };
  }

  /** How many polls are waiting right now. */
  get size(): number {
    let n = 0;
    for (const waiting of this.waiting.values()) n += waiting.size;
    return n;
  }

  /** Shutdown: answer every waiting poll now. */
  releaseAll(): void {
    this.closed = true;
    for (const handoffId of [...this.waiting.keys()]) this.wake(handoffId);
  }
}
