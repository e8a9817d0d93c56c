import type { Clock } from '../server/clock';

/** What happened to one call, as the breaker reports it. */
export type Outcome = 'success' | 'failure' | 'timeout' | 'rejection';

/** Rolling-window counters of one upstream, as shown by the admin API. */
export interface StatsSnapshot {
  windowMs: number;
  requests: number;
  successes: number;
  failures: number;
  timeouts: number;
  rejections: number;
  errorPercentage: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
}

const BUCKETS = 10;
/*
 * Latency is kept as a fixed log-scale histogram per bucket (about 5% resolution from
 * 0.1 ms to ~60 s), so memory is constant however much traffic flows: opossum's own
 * percentiles keep every sample of the window and sort them on each read.
 */
const HIST_BASE = 1.05;
const HIST_MIN_MS = 0.1;
const HIST_SIZE = 275;

interface Bucket {
  start: number;
  successes: number;
  failures: number;
  timeouts: number;
  rejections: number;
  hist: Uint32Array;
}

function histIndex(ms: number): number {
  if (ms <= HIST_MIN_MS) return 0;
  return Math.min(HIST_SIZE - 1, Math.ceil(Math.log(ms / HIST_MIN_MS) / Math.log(HIST_BASE)));
}

/** Counts one upstream's call outcomes over a rolling window; it listens, it never decides. */
export class RollingStats {
  private readonly buckets: Bucket[] = [];
  private readonly bucketMs: number;

  constructor(
    private readonly windowMs: number,
    private readonly clock: Clock,
  ) {
    this.bucketMs = Math.max(1, Math.ceil(windowMs / BUCKETS));
  }

  /** Records one call; latency is ignored for rejections (they never reached the upstream). */
  record(outcome: Outcome, latencyMs: number): void {
    const b = this.current();
    switch (outcome) {
      case 'success': b.successes++; break;
      case 'failure': b.failures++; break;
      case 'timeout': b.timeouts++; break;
      case 'rejection': b.rejections++; return;
    }
    const i = histIndex(latencyMs);
    b.hist[i] = (b.hist[i] ?? 0) + 1;
  }

  /** Forgets the window (an operator reset the breaker). */
  clear(): void {
    this.buckets.length = 0;
  }

  snapshot(): StatsSnapshot {
    this.prune(this.clock.now());
    let successes = 0, failures = 0, timeouts = 0, rejections = 0;
    const hist = new Uint32Array(HIST_SIZE);
    for (const b of this.buckets) {
      successes += b.successes; failures += b.failures; timeouts += b.timeouts; rejections += b.rejections;
      for (let i = 0; i < HIST_SIZE; i++) hist[i] = (hist[i] ?? 0) + (b.hist[i] ?? 0);
    }
    const completed = successes + failures + timeouts;
    return {
      windowMs: this.windowMs,
      requests: completed + rejections,
      successes,
      failures,
      timeouts,
      rejections,
      errorPercentage: completed === 0 ? 0 : Math.round(((failures + timeouts) / completed) * 1000) / 10,
      latencyMs: { p50: quantile(hist, completed, 0.5), p95: quantile(hist, completed, 0.95), p99: quantile(hist, completed, 0.99) },
    };
  }

  private current(): Bucket {
    const now = this.clock.now();
    const last = this.buckets[this.buckets.length - 1];
    if (last && now - last.start < this.bucketMs) return last;
    this.prune(now);
    const b: Bucket = { start: now - (now % this.bucketMs), successes: 0, failures: 0, timeouts: 0, rejections: 0, hist: new Uint32Array(HIST_SIZE) };
    this.buckets.push(b);
    return b;
  }

  private prune(now: number): void {
    while (this.buckets.length > 0 && now - (this.buckets[0] as Bucket).start >= this.windowMs) this.buckets.shift();
  }
}

/** Upper edge of the histogram bin holding the q-quantile, rounded to 0.1 ms. */
function quantile(hist: Uint32Array, total: number, q: number): number | null {
  if (total === 0) return null;
  const rank = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i] ?? 0;
    if (seen >= rank) return Math.round(HIST_MIN_MS * HIST_BASE ** i * 10) / 10;
  }
  return null;
}
