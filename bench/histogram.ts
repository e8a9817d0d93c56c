/** Latency percentiles of one measurement, in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const SUB_BITS = 10;
const SUB = 1 << SUB_BITS;
/** Exact below 2 048 µs, then 1 024 buckets per power of two (under 0.1 % error) up to ~36 min. */
const BUCKETS = 2 * SUB + 32 * SUB;

/**
 * A log-linear latency histogram with microsecond resolution (the idea of HdrHistogram, in
 * 40 lines). autocannon's own histogram stores whole milliseconds, which cannot show the
 * sub-millisecond differences between proxies that this benchmark is about.
 */
export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private total = 0;
  private sumUs = 0;
  private maxUs = 0;

  /** Records one latency given in milliseconds (fractions kept down to 1 µs). */
  record(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000));
    this.counts[indexOf(us)]!++;
    this.total++;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  get count(): number {
    return this.total;
  }

  /** The value (ms) at or below which `p` percent of the recorded latencies lie. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(upperOf(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      mean: this.total === 0 ? 0 : this.sumUs / this.total / 1000,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.maxUs / 1000,
    };
  }
}

function indexOf(us: number): number {
  if (us < 2 * SUB) return us;
  const shift = Math.floor(Math.log2(us)) - SUB_BITS;
  return Math.min(BUCKETS - 1, 2 * SUB + (shift - 1) * SUB + (Math.floor(us / 2 ** shift) - SUB));
}

/** Largest value (µs) that falls in bucket `i`. */
function upperOf(i: number): number {
  if (i < 2 * SUB) return i;
  const shift = Math.floor((i - 2 * SUB) / SUB) + 1;
  const mantissa = ((i - 2 * SUB) % SUB) + SUB;
  return (mantissa + 1) * 2 ** shift - 1;
}
