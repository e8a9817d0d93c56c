/**
 * What operators see of a breaker's window (src/upstreams/breaker.ts `stats()`): opossum's
 * own window, the one that decides, with the side window (timeouts, refusals, latency)
 * rotating beside it (src/upstreams/stats.ts).
 */
import { systemClock } from '../../src/core/clock';
import { Breaker, CountedFailure } from '../../src/upstreams/breaker';
import { SideWindow, sumSnapshots } from '../../src/upstreams/stats';

const settings = { errorThresholdPercentage: 50, volumeThreshold: 100, resetTimeoutMs: 1000, rollingWindowMs: 10000 };

describe('breaker stats', () => {
  let b: Breaker;
  beforeEach(() => {
    b = new Breaker('business', settings, 100, systemClock);
  });
  afterEach(() => b.close());

  const settleMany = (outcome: 'success' | 'failure' | 'timeout', n: number, latency = 10): void => {
    for (let i = 0; i < n; i++) {
      const t = b.admit();
      if (typeof t !== 'number') throw new Error('not admitted');
      b.settle(t, outcome, latency);
    }
  };

  it('is empty at first', () => {
    expect(b.stats()).toEqual({
      windowMs: 10000, requests: 0, successes: 0, failures: 0, timeouts: 0, rejections: 0, errorPercentage: 0,
      latencyMs: { p50: null, p95: null, p99: null },
    });
  });

  it('counts outcomes; rejections are requests but not in the error percentage', async () => {
    settleMany('success', 6);
    await Promise.resolve(); // opossum counts a success a microtask after it is fed
    settleMany('failure', 1);
    settleMany('timeout', 1);
    b.forceOpen();
    b.admit();
    b.admit();
    expect(b.stats()).toMatchObject({ requests: 10, successes: 6, failures: 1, timeouts: 1, rejections: 2, errorPercentage: 25 });
  });

  it('the error percentage shown is the one opossum opens on', async () => {
    const low = new Breaker('low', { ...settings, volumeThreshold: 4 }, 100, systemClock);
    try {
      await low.run(() => Promise.resolve(1));
      await low.run(() => Promise.resolve(1));
      await low.run(() => Promise.reject(new CountedFailure('failure'))).catch(() => undefined);
      expect(low.stats().errorPercentage).toBe(33.3);
      expect(low.state().value).toBe('closed');
      await low.run(() => Promise.reject(new CountedFailure('timeout'))).catch(() => undefined);
      // 2 of 4: at the threshold, not over it; one more failure opens it at 60 %.
      expect(low.stats()).toMatchObject({ errorPercentage: 50, failures: 1, timeouts: 1 });
      expect(low.state().value).toBe('closed');
      await low.run(() => Promise.reject(new CountedFailure('failure'))).catch(() => undefined);
      expect(low.stats().errorPercentage).toBe(60);
      expect(low.state()).toMatchObject({ value: 'open', reason: 'failures' });
    } finally {
      low.close();
    }
  });

  it('latency percentiles come from completed calls only, within about 5 %', () => {
    for (let i = 1; i <= 100; i++) settleMany('success', 1, i);
    const { p50, p95, p99 } = b.stats().latencyMs;
    expect(p50).toBeGreaterThanOrEqual(50);
    expect(p50).toBeLessThanOrEqual(50 * 1.06);
    expect(p95).toBeGreaterThanOrEqual(95);
    expect(p95).toBeLessThanOrEqual(95 * 1.06);
    expect(p99).toBeGreaterThanOrEqual(99);
    expect(p99).toBeLessThanOrEqual(99 * 1.06);
  });

  it('reset clears both windows', () => {
    settleMany('failure', 3);
    b.forceOpen();
    b.admit();
    b.reset();
    expect(b.stats()).toMatchObject({ requests: 0, failures: 0, rejections: 0, latencyMs: { p50: null } });
  });
});

describe('SideWindow', () => {
  it('forgets what is older than the window, bucket by bucket', () => {
    const w = new SideWindow(3);
    w.rejection();
    w.sample(5, true);
    w.rotate();
    w.rejection();
    expect(w.totals()).toMatchObject({ rejections: 2, timeouts: 1 });
    w.rotate();
    w.rotate(); // the first bucket is reused: its counts are gone
    expect(w.totals()).toMatchObject({ rejections: 1, timeouts: 0, latencyMs: { p50: null } });
  });
});

describe('sumSnapshots', () => {
  it('adds the targets up, with the error percentage over all', () => {
    const one = { windowMs: 10, requests: 4, successes: 3, failures: 1, timeouts: 0, rejections: 0, errorPercentage: 25, latencyMs: { p50: 1, p95: 2, p99: 3 } };
    const two = { windowMs: 10, requests: 2, successes: 0, failures: 1, timeouts: 1, rejections: 0, errorPercentage: 100, latencyMs: { p50: 5, p95: null, p99: 1 } };
    expect(sumSnapshots([one, two])).toEqual({ windowMs: 10, requests: 6, successes: 3, failures: 2, timeouts: 1, rejections: 0, errorPercentage: 50, latencyMs: { p50: 5, p95: 2, p99: 3 } });
  });
});
