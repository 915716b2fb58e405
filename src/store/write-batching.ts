/**
 * Socket-level write batching for the Redis command connection, kept because the bench still
 * shows it pays (docs/BENCHMARKS.md, "speedups"): while replies are outstanding (many scripts
 * polling at once), the first command of an event-loop turn corks the socket and a
 * setImmediate uncorks it, so everything the turn issued leaves in one writev instead of one
 * syscall each. With nothing outstanding (one client, a quiet service) a command leaves at
 * once. Each command keeps its own reply, timeout and failure: only how the bytes leave changes.
 */
import type { Writable } from 'node:stream';

export class WriteBatcher {
  private inFlight = 0;
  private corked = false;

  /**
   * `socket` reads the connection's current socket (it changes on reconnect); `enabled` false
   * sends every command in its own write (the bench's A/B).
   */
  constructor(
    private readonly socket: () => Writable | undefined,
    private readonly enabled = true,
  ) {}

  /** Call right before a command is written; pair with `replied` once it settles. */
  sending(): void {
    if (this.inFlight > 0 && !this.corked && this.enabled) {
      const stream = this.socket();
      if (stream?.writable) {
        stream.cork();
        this.corked = true;
        setImmediate(() => {
          this.corked = false;
          stream.uncork();
        });
      }
    }
    this.inFlight++;
  }

  /** A command's reply (or failure) arrived. */
  replied(): void {
    this.inFlight--;
  }
}
