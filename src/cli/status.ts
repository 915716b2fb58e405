/**
 * What the person (or CI log) watching stderr sees while the CLI waits: a live spinner line
 * with the time left on a terminal, a plain line every 30 s otherwise, nothing when quiet.
 */

export interface TextSink {
  write(chunk: string): unknown;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[2K';

/** "9:05" (or "1:02:03") for the live line. */
export function clockDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** "9 min 5 s", "45 s", "1 h 2 min" for log lines. */
export function wordsDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return s > 0 ? `${m} min ${s} s` : `${m} min`;
  return `${s} s`;
}

export interface WaitStatusOptions {
  /** Draw the live line (stderr is a terminal). */
  live: boolean;
  quiet: boolean;
  now: () => number;
  /** When waiting ends at the latest (code expiry or --timeout). */
  stopAt: number;
  /** Gap between plain progress lines when not live. */
  logEveryMs?: number;
  /** Redraw period of the live line. */
  frameMs?: number;
}

export class WaitStatus {
  private timer: ReturnType<typeof setInterval> | undefined;
  private frame = 0;
  private drawn = false;

  constructor(
    private readonly out: TextSink,
    private readonly opts: WaitStatusOptions,
  ) {}

  start(): void {
    if (this.opts.quiet || this.timer !== undefined) return;
    if (this.opts.live) {
      this.draw();
      this.timer = setInterval(() => this.draw(), this.opts.frameMs ?? 100);
    } else {
      this.timer = setInterval(() => {
        const left = this.opts.stopAt - this.opts.now();
        if (left > 0) this.out.write(`Still waiting for approval (${wordsDuration(left)} left)\n`);
      }, this.opts.logEveryMs ?? 30_000);
    }
    this.timer.unref?.();
  }

  /** Prints a line without tearing the live line. */
  note(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    if (this.timer !== undefined && this.opts.live) this.draw();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private clear(): void {
    if (this.drawn) this.out.write(CLEAR_LINE);
    this.drawn = false;
  }

  private draw(): void {
    const left = this.opts.stopAt - this.opts.now();
    const spin = FRAMES[this.frame++ % FRAMES.length] ?? '';
    this.out.write(
      `${CLEAR_LINE}${spin} Waiting for approval… ${clockDuration(left)} left (Ctrl-C to cancel)`,
    );
    this.drawn = true;
  }
}
