/**
 * How long this process was held up: the slack a timing assertion owes to a loaded machine,
 * and no more. A 10 ms interval timer notes how late each of its ticks fires; the lateness
 * adds up to the time the event loop could not run (another process had the CPU, a GC
 * pause). A bound written as `deadline + lostSince(mark)` is as tight as `deadline` on an
 * idle machine, and on a busy one it does not blame the code under test for time in which
 * it was not running. (The gateway under test runs in this process, or beside it on the
 * same cores, so what holds this process up holds it up too.)
 */
import { performance } from 'node:perf_hooks';

const TICK_MS = 10;

export interface StallMeter {
  /** A point to measure from. */
  mark(): number;
  /** Milliseconds this process was held up since `mark`, including a tick that is late right now. */
  lostSince(mark: number): number;
  stop(): void;
}

export function startStallMeter(): StallMeter {
  let lost = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lost += Math.max(0, now - last - TICK_MS);
    last = now;
  }, TICK_MS);
  timer.unref();
  const lostNow = (): number => lost + Math.max(0, performance.now() - last - TICK_MS);
  return {
    mark: lostNow,
    lostSince: (mark) => lostNow() - mark,
    stop: () => clearInterval(timer),
  };
}
