/** The test helper that measures how long this process was held up (test/helpers/stall-meter.ts). */
import { performance } from 'node:perf_hooks';
import { startStallMeter } from '../helpers/stall-meter';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('stall meter', () => {
  it('counts a blocked event loop as lost time, and little else', async () => {
    const meter = startStallMeter();
    try {
      await sleep(50);
      const before = meter.mark();
      const windowStart = performance.now();
      const until = windowStart + 300;
      while (performance.now() < until) {
        // hold the event loop, as a starved CPU would
      }
      await sleep(30);
      const lost = meter.lostSince(before);
      expect(lost).toBeGreaterThanOrEqual(280);
      // Never more than the time that passed.
      expect(lost).toBeLessThanOrEqual(performance.now() - windowStart);
    } finally {
      meter.stop();
    }
  });
});
