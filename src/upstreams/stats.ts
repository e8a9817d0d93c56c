/** Rolling-window counters of one target's breaker, as shown by the admin API. */
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

/*
 * Latency is kept as a fixed log-scale histogram per bucket (about 5% resolution from
 * 0.1 ms to ~60 s), so memory is constant however much traffic flows: opossum's own
 * percentiles keep every sample of the window and sort them on each read.
 */
const HIST_BASE = 1.05;
const HIST_MIN_MS = 0.1;
const HIST_SIZE = 275;

interface Bucket {
  timeouts: number;
  rejections: number;
  /** Latency samples of calls that reached the target. */
  samples: number;
  hist: Uint32Array;
}

function histIndex(ms: number): number {
  if (ms <= HIST_MIN_MS) return 0;
  return Math.min(HIST_SIZE - 1, Math.ceil(Math.log(ms / HIST_MIN_MS) / Math.log(HIST_BASE)));
}

const emptyBucket = (): Bucket => ({ timeouts: 0, rejections: 0, samples: 0, hist: new Uint32Array(HIST_SIZE) });

/**
 * What the breaker's window (opossum's) does not hold, kept in buckets that rotate on the
 * same signal as opossum's, so both cover exactly the same stretch of time: which failures
 * were timeouts, the calls the gateway refused before opossum saw them (they must not
 * dilute its error percentage), and latency. It listens; it never decides.
 */
export class SideWindow {
  private readonly buckets: Bucket[];
  private head = 0;

  constructor(bucketCount: number) {
    this.buckets = Array.from({ length: bucketCount }, emptyBucket);
  }

  /** A refusal by admission (open breaker, trial under way, concurrency limit). */
  rejection(): void {
    (this.buckets[this.head] as Bucket).rejections++;
  }

  /** A call that reached the target; `timeout` marks a failure that was a timeout. */
  sample(latencyMs: number, timeout: boolean): void {
    const b = this.buckets[this.head] as Bucket;
    if (timeout) b.timeouts++;
    b.samples++;
    const i = histIndex(latencyMs);
    b.hist[i] = (b.hist[i] ?? 0) + 1;
  }

  /** The oldest bucket falls out of the window; called with opossum's own rotation. */
  rotate(): void {
    this.head = (this.head + 1) % this.buckets.length;
    const b = this.buckets[this.head] as Bucket;
    b.timeouts = 0;
    b.rejections = 0;
    b.samples = 0;
    b.hist.fill(0);
  }

  clear(): void {
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i] = emptyBucket();
  }

  totals(): { timeouts: number; rejections: number; latencyMs: StatsSnapshot['latencyMs'] } {
    let timeouts = 0, rejections = 0, samples = 0;
    const hist = new Uint32Array(HIST_SIZE);
    for (const b of this.buckets) {
      timeouts += b.timeouts; rejections += b.rejections; samples += b.samples;
      for (let i = 0; i < HIST_SIZE; i++) hist[i] = (hist[i] ?? 0) + (b.hist[i] ?? 0);
    }
    return { timeouts, rejections, latencyMs: { p50: quantile(hist, samples, 0.5), p95: quantile(hist, samples, 0.95), p99: quantile(hist, samples, 0.99) } };
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

/** Sums snapshots (an upstream's over its targets); the error percentage is over all of them. */
export function sumSnapshots(snaps: readonly StatsSnapshot[]): StatsSnapshot {
  if (snaps.length === 1) return snaps[0] as StatsSnapshot;
  const s: StatsSnapshot = { windowMs: snaps[0]?.windowMs ?? 0, requests: 0, successes: 0, failures: 0, timeouts: 0, rejections: 0, errorPercentage: 0, latencyMs: { p50: null, p95: null, p99: null } };
  for (const x of snaps) {
    s.requests += x.requests; s.successes += x.successes; s.failures += x.failures; s.timeouts += x.timeouts; s.rejections += x.rejections;
    // Percentiles do not add up; the slowest target's is the honest upper bound.
    s.latencyMs.p50 = maxOrNull(s.latencyMs.p50, x.latencyMs.p50);
    s.latencyMs.p95 = maxOrNull(s.latencyMs.p95, x.latencyMs.p95);
    s.latencyMs.p99 = maxOrNull(s.latencyMs.p99, x.latencyMs.p99);
  }
  const completed = s.successes + s.failures + s.timeouts;
  s.errorPercentage = completed === 0 ? 0 : Math.round(((s.failures + s.timeouts) / completed) * 1000) / 10;
  return s;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/** Counts of opossum's window (what the breaker decides on), as read from its `stats`. */
export interface DecidingWindow {
  fires: number;
  successes: number;
  failures: number;
}

/** The snapshot operators see: opossum's counts, and what the side window adds to them. */
export function snapshotOf(w: DecidingWindow, side: SideWindow, windowMs: number): StatsSnapshot {
  const t = side.totals();
  const failures = Math.max(0, w.failures - t.timeouts);
  return {
    windowMs,
    requests: w.fires + t.rejections,
    successes: w.successes,
    failures,
    timeouts: w.failures - failures,
    rejections: t.rejections,
    // What opossum opens on: failures (timeouts included) over the calls it was fed.
    errorPercentage: w.fires === 0 ? 0 : Math.round((w.failures / w.fires) * 1000) / 10,
    latencyMs: t.latencyMs,
  };
}
