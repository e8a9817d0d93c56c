/**
 * Deadlines that wait out a stall of this process once (src/core/stall.ts). The stall is
 * real: the test blocks the event loop, as a long GC pause or a starved CPU would.
 */
import { performance } from 'node:perf_hooks';
import { lostToStall, MAX_GRACE_MS, startDeadline, STALL_MS } from '../../src/core/stall';

/** Holds the event loop for `ms`, like a stall of the process. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('lostToStall', () => {
  it.each([
    [1000, 1000, 5000, 0],
    [1000, 1000 + STALL_MS, 5000, 0],
    [1000, 1000 + STALL_MS + 1, 5000, STALL_MS + 1],
    [1000, 1000 + MAX_GRACE_MS - 1, 5000, MAX_GRACE_MS - 1],
    [1000, 2500, 5000, MAX_GRACE_MS],
    [1000, 1090, 50, 50],
  ])('due %d, fired %d, capped at %d: %d ms lost', (due, now, cap, want) => {
    expect(lostToStall(due, now, cap)).toBe(want);
  });
});

describe('startDeadline', () => {
  it('expires after its time when the process runs', async () => {
    let at = 0;
    const started = performance.now();
    startDeadline(() => (at = performance.now()), 30);
    while (at === 0) await sleep(5);
    expect(at - started).toBeGreaterThanOrEqual(29);
  });

  it('after a stall past its time, waits once more for the time lost before expiring', async () => {
    let expired = 0;
    startDeadline(() => expired++, 20);
    block(300);
    // The timer fires first thing after the stall, ~280 ms late: pending I/O gets its turn first.
    await sleep(0);
    await nextTurn();
    expect(expired).toBe(0);
    const waitStarted = performance.now();
    while (expired === 0) await sleep(5);
    // The time lost (~280 ms), capped at the deadline's own 20 ms: far less than the stall.
    expect(performance.now() - waitStarted).toBeLessThan(250);
    expect(expired).toBe(1);
  });

  it('waits out a stall only once: a second stall expires it', async () => {
    let expired = 0;
    startDeadline(() => expired++, 20);
    block(100);
    await sleep(0);
    await nextTurn();
    expect(expired).toBe(0);
    block(100);
    while (expired === 0) await sleep(5);
    expect(expired).toBe(1);
  });

  it('clear() cancels it, also during its extra wait', async () => {
    let expired = 0;
    startDeadline(() => expired++, 10).clear();
    const d = startDeadline(() => expired++, 10);
    // Due after d's first firing and before the stall ends: both run in the same timers
    // phase when it does, d first (its extra wait starts), then this clear(), whatever the load.
    setTimeout(() => d.clear(), 50);
    block(150);
    await sleep(300);
    expect(expired).toBe(0);
  });
});
