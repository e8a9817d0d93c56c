import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Connections past the limit that are still accepted to be told so with a 503, rather than
 * dropped without a word; past those, Node drops new connections itself.
 */
const REFUSAL_ROOM = 64;
/** How long a connection past the limit may take to send the request its 503 answers. */
const REFUSED_LINGER_MS = 1000;
/** File descriptors kept for everything but caller connections: listeners, logs, health checks. */
const RESERVED_FDS = 128;

/**
 * `listen.maxConnections` (README "Operations", limits). Without a cap, callers could use
 * every file descriptor: then new callers are reset, /healthz is unreachable, and requests
 * that need a new upstream socket fail (and used to be blamed on the upstream). With it, a
 * connection past the limit has its first request answered 503 GATEWAY_OVERLOADED and is
 * closed; one that sends nothing is closed after a second.
 */
export class ConnectionLimit {
  private open = 0;
  private readonly refused = new WeakSet<Socket>();

  constructor(
    /** Connections served at once. */
    readonly max: number,
  ) {}

  /** Counts `server`'s connections from now on. */
  attach(server: Server): void {
    server.maxConnections = this.max + REFUSAL_ROOM;
    server.on('connection', (socket: Socket) => {
      if (this.open >= this.max) {
        this.refused.add(socket);
        setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
        return;
      }
      this.open++;
      socket.once('close', () => this.open--);
    });
  }

  /** Whether this connection came past the limit: its request is answered with GATEWAY_OVERLOADED. */
  isRefused(socket: Socket): boolean {
    return this.refused.has(socket);
  }
}

/**
 * The default limit: half the file descriptors the process may open, less a reserve, since
 * every caller connection may need an upstream socket beside it. 10,000 where the limit
 * cannot be read (no /proc).
 */
export function defaultMaxConnections(limitsFile = '/proc/self/limits'): number {
  let soft: number | undefined;
  try {
    const line = readFileSync(limitsFile, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const value = line?.slice('Max open files'.length).trim().split(' ')[0];
    soft = value === undefined || value === 'unlimited' ? undefined : Number(value);
  } catch {
    soft = undefined;
  }
  if (soft === undefined || !Number.isFinite(soft)) return 10000;
  return Math.max(16, Math.floor((soft - RESERVED_FDS) / 2));
}
