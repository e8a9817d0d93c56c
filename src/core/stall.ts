import { performance } from 'node:perf_hooks';

/*
 * Deadlines that do not blame others for this process's own stalls.
 *
 * When the process stops running for a while (a long GC pause, a CPU-starved container or
 * VM, SIGSTOP), everything that happened meanwhile waits: an upstream's answer lies unread
 * in the socket, a connection stands established in the kernel. When the process runs
 * again, Node's event loop fires due timers *before* it reads pending I/O, so a plain
 * setTimeout deadline would declare a timeout although the answer arrived in time. A timer
 * that fires late has measured such a stall: its lateness is time the process lost. A
 * deadline then waits once more, for that time but at most MAX_GRACE_MS (and at most its
 * own length), which lets the pending I/O be read first, and only then decides. The cap
 * keeps the cost to a hung upstream's caller small and known; a few event-loop turns are
 * all an answer already received needs.
 */

/** A timer this much later than due (ms) means the process itself was held up, not just busy. */
export const STALL_MS = 20;
/** The longest extra wait after a stall (ms). */
export const MAX_GRACE_MS = 100;

/**
 * How much longer a deadline due at `dueAt` (a performance.now() reading) and firing at
 * `now` should wait: the time this process lost to a stall, capped at MAX_GRACE_MS and at
 * `maxMs`; 0 when it fired about on time (act now).
 */
export function lostToStall(dueAt: number, now: number, maxMs: number): number {
  const late = now - dueAt;
  return late > STALL_MS ? Math.min(late, maxMs, MAX_GRACE_MS) : 0;
}

/** A running deadline; `clear()` cancels it. */
export interface Deadline {
  clear(): void;
}

/**
 * Calls `expire` after `ms`, unless cleared first; when its timer fires more than STALL_MS
 * late, it waits once more (see lostToStall) before calling it. `unref`: the deadline does
 * not keep the process alive.
 */
export function startDeadline(expire: () => void, ms: number, options: { unref?: boolean } = {}): Deadline {
  let dueAt = performance.now() + ms;
  let graceGiven = false;
  const arm = (delay: number): NodeJS.Timeout => {
    const t = setTimeout(onTimer, delay);
    if (options.unref) t.unref();
    return t;
  };
  const onTimer = (): void => {
    const lost = graceGiven ? 0 : lostToStall(dueAt, performance.now(), ms);
    if (lost === 0) return expire();
    graceGiven = true;
    dueAt = performance.now() + lost;
    timer = arm(lost);
  };
  let timer = arm(ms);
  return { clear: () => clearTimeout(timer) };
}
