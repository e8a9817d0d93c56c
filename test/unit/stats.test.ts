/** Rolling statistics of one upstream (src/upstreams/stats.ts), on an injected clock. */
import type { Clock } from '../../src/server/clock';
import { RollingStats } from '../../src/upstreams/stats';

describe('RollingStats', () => {
  let now: number;
  const clock: Clock = { now: () => now };
  beforeEach(() => {
    now = 1_000_000;
  });

  it('is empty at first', () => {
    expect(new RollingStats(10000, clock).snapshot()).toEqual({
      windowMs: 10000,
      requests: 0,
      successes: 0,
      failures: 0,
      timeouts: 0,
      rejections: 0,
      errorPercentage: 0,
      latencyMs: { p50: null, p95: null, p99: null },
    });
  });

  it('counts outcomes; rejections are requests but not in the error percentage', () => {
    const s = new RollingStats(10000, clock);
    for (let i = 0; i < 6; i++) s.record('success', 10);
    s.record('failure', 10);
    s.record('timeout', 10);
    s.record('rejection', 0);
    s.record('rejection', 0);
    expect(s.snapshot()).toMatchObject({ requests: 10, successes: 6, failures: 1, timeouts: 1, rejections: 2, errorPercentage: 25 });
  });

  it('latency percentiles come from completed calls only, within about 5 %', () => {
    const s = new RollingStats(10000, clock);
    for (let i = 1; i <= 100; i++) s.record('success', i);
    s.record('rejection', 100000); // ignored for latency
    const { p50, p95, p99 } = s.snapshot().latencyMs;
    expect(p50).toBeGreaterThanOrEqual(50);
    expect(p50).toBeLessThanOrEqual(50 * 1.06);
    expect(p95).toBeGreaterThanOrEqual(95);
    expect(p95).toBeLessThanOrEqual(95 * 1.06);
    expect(p99).toBeGreaterThanOrEqual(99);
    expect(p99).toBeLessThanOrEqual(99 * 1.06);
  });

  it('forgets what is older than the window, bucket by bucket', () => {
    const s = new RollingStats(10000, clock);
    s.record('failure', 5);
    now += 5000;
    s.record('success', 5);
    expect(s.snapshot()).toMatchObject({ requests: 2, failures: 1, successes: 1, errorPercentage: 50 });
    now += 6000; // the failure's bucket is out of the window, the success's is not
    expect(s.snapshot()).toMatchObject({ requests: 1, failures: 0, successes: 1, errorPercentage: 0 });
    now += 10000;
    expect(s.snapshot()).toMatchObject({ requests: 0, latencyMs: { p50: null, p95: null, p99: null } });
  });

  it('rounds the error percentage to one decimal', () => {
    const s = new RollingStats(10000, clock);
    s.record('failure', 1);
    s.record('success', 1);
    s.record('success', 1);
    expect(s.snapshot().errorPercentage).toBe(33.3);
  });
});
