import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Clock } from '../core/clock';

/**
 * `listen.sendTimeoutMs` (README "Operations", limits): a caller that accepts no bytes of
 * its response for that long is cut, and with its connection goes its upstream request.
 * Without it, a caller that stops reading holds an upstream socket, a concurrency slot and
 * the buffered answer for as long as it likes. "Accepts no bytes" is read as nginx reads its
 * send_timeout: the connection's write buffer stayed full (Node's `writableNeedDrain`) and
 * never drained for the whole time. A slow reader that keeps draining it is never cut.
 * One sweep over the open responses checks every connection: no timer per write.
 */
export class SendTimeout {
  /** Connections whose write buffer was full at a sweep, and since when. */
  private readonly stalledSince = new Map<Socket, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly timeoutMs: number,
    private readonly clock: Clock,
    private readonly responses: () => Iterable<ServerResponse>,
  ) {
    // A quarter of the limit, at most a second: a stall is cut within 25 % (or 1 s) of it.
    this.timer = setInterval(() => this.sweep(), Math.min(1000, Math.max(10, Math.floor(timeoutMs / 4))));
    this.timer.unref();
  }

  /** Cuts every connection whose write buffer has stayed full for the whole limit. */
  sweep(): void {
    const now = this.clock.now();
    for (const [socket] of this.stalledSince) if (socket.destroyed) this.stalledSince.delete(socket);
    for (const res of this.responses()) {
      const socket = res.socket;
      if (socket === null || socket.destroyed || !socket.writableNeedDrain) continue;
      const since = this.stalledSince.get(socket);
      if (since === undefined) {
        this.stalledSince.set(socket, now);
        socket.once('drain', () => this.stalledSince.delete(socket));
      } else if (now - since >= this.timeoutMs) {
        this.stalledSince.delete(socket);
        socket.destroy();
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.stalledSince.clear();
  }
}
