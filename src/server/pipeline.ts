import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Waiting pipelined requests on one connection beyond which it is not read until some are answered. */
const MAX_WAITING = 16;

/** The pipelined requests of one connection that wait for the one being answered. */
interface Waiting {
  readonly responses: Set<ServerResponse>;
  paused: boolean;
}

/**
 * Pipelined requests (README "Operations", limits): Node parses every request a connection
 * sends and would hand them all to the gateway at once, so a caller that pipelines 1,000
 * requests for a large answer and never reads held 1,000 upstream requests open. Here a
 * request whose response must wait behind another one (Node gives it no socket yet) is
 * handled only once its turn comes, as nginx does; more than MAX_WAITING waiting stop the
 * connection being read. A connection that closes closes what still waits on it: Node
 * never would, and each would stay in flight for good.
 */
export class PipelineGate {
  private readonly bySocket = new WeakMap<Socket, Waiting>();

  /**
   * Runs `handle` now when `res` is the connection's current response, otherwise once its
   * turn comes (never, when the connection closes first: then `res` gets its 'close').
   */
  admit(socket: Socket, res: ServerResponse, handle: () => void): void {
    if (res.socket !== null) return handle();
    let waiting = this.bySocket.get(socket);
    if (waiting === undefined) {
      const entry: Waiting = { responses: new Set(), paused: false };
      waiting = entry;
      this.bySocket.set(socket, entry);
      socket.once('close', () => this.closeWaiting(socket, entry));
    }
    waiting.responses.add(res);
    if (waiting.responses.size > MAX_WAITING && !waiting.paused) {
      waiting.paused = true;
      socket.pause();
    }
    const entry = waiting;
    // Node assigns the socket (and emits 'socket') when every response before this one is over.
    res.once('socket', () => {
      entry.responses.delete(res);
      if (entry.paused && entry.responses.size <= MAX_WAITING / 2) {
        entry.paused = false;
        socket.resume();
      }
      handle();
    });
  }

  private closeWaiting(socket: Socket, waiting: Waiting): void {
    this.bySocket.delete(socket);
    // 'close' is what every listener of a response waits for to let go.
    for (const res of waiting.responses) if (!res.closed) res.emit('close');
    waiting.responses.clear();
  }
}
