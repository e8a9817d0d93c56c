import type { Agent } from 'node:http';
import type { Socket } from 'node:net';

const IDLE_SINCE = Symbol('breakwater.idleSince');
type Tracked = Socket & { [IDLE_SINCE]?: number };

/**
 * Closes an agent's free keep-alive sockets once they have been idle for `idleMs`, checking
 * every `everyMs`. It replaces the agent's own `timeout` option, which arms a timer on every
 * socket for its whole life: while a socket is in use that timer is refreshed on every read
 * and write, about 3 % of the gateway's instructions per proxied request, only to close
 * sockets that sit idle. Here a request costs one property write when its socket is freed.
 * Returns a function that stops the sweep.
 */
export function closeIdleSockets(agent: Agent, idleMs: number, everyMs: number, now: () => number = Date.now): () => void {
  const keepSocketAlive = agent.keepSocketAlive.bind(agent);
  // Node's type says void, but the agent keeps the socket only when this returns true.
  agent.keepSocketAlive = (socket: Socket) => {
    (socket as Tracked)[IDLE_SINCE] = now();
    return keepSocketAlive(socket);
  };
  const sweep = setInterval(() => {
    const t = now();
    for (const sockets of Object.values(agent.freeSockets)) {
      for (const socket of sockets ?? []) {
        if (t - ((socket as Tracked)[IDLE_SINCE] ?? t) >= idleMs) socket.destroy();
      }
    }
  }, everyMs);
  // An idle gateway must still be able to exit.
  sweep.unref();
  return () => clearInterval(sweep);
}
