import type { DestinationStream } from 'pino';

/** Pending lines beyond this many characters are written at once rather than at the end of the turn. */
const MAX_PENDING_CHARS = 64 * 1024;

/** Where batched lines go: pino's own destination (sonic-boom), which copes with partial writes and EAGAIN. */
export interface LineSink {
  write(data: string): unknown;
}

/**
 * A pino destination that gathers the lines logged during one event-loop turn and hands them
 * to `sink` as one write when the turn ends (setImmediate). Under load one turn answers many
 * requests, so the request log costs one write system call per turn instead of one per
 * request; an idle gateway's line still goes out before the next turn. Lines keep their order.
 * Call `flush()` before the process exits: what is pending is lost otherwise.
 */
export class TurnBatchedDestination implements DestinationStream {
  private pending: string[] = [];
  private chars = 0;
  private scheduled: NodeJS.Immediate | null = null;

  constructor(private readonly sink: LineSink) {}

  write(line: string): void {
    this.pending.push(line);
    this.chars += line.length;
    if (this.chars >= MAX_PENDING_CHARS) this.flush();
    else if (this.scheduled === null) this.scheduled = setImmediate(this.endOfTurn);
  }

  /** Writes every pending line now (pino's `logger.flush()` calls this too). */
  flush(done?: (err?: Error) => void): void {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    if (this.pending.length > 0) {
      const data = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
      this.pending = [];
      this.chars = 0;
      this.sink.write(data);
    }
    done?.();
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = null;
    this.flush();
  };
}
