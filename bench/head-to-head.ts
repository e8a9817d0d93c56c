import { median } from './rounds';
import type { TargetId } from './targets';

/**
 * Head-to-head: two targets share the target core at the same time, each under its own
 * closed-loop load. Whatever the machine does meanwhile (a neighbour on the host, a slow
 * spell) falls on both at once, so the ratio of their CPU cost per request is paired in time.
 * Measured one after the other, d/b moved between 0.31 and 0.72 from round to round on the
 * benchmark's VM; head to head its windows stayed within a few hundredths of each other (one
 * window in fifteen was an outlier), though the level still moved between runs (0.51-0.57).
 * The median over the windows sets the outlier aside.
 * What it does not show: the cost a target pays for having its core, and the processes it
 * talks to, to itself (cheaper or dearer wake-ups), which the windows taken in turn include.
 */

/** One pair: `x` over `y` reads as "x's throughput relative to y's", as the ratios d/b, d/c, e/d do. */
export interface HeadToHeadPair {
  x: TargetId;
  y: TargetId;
  /** A pair of two processes of the same target: the method's own error, expected 1.00×. */
  control?: boolean;
}

/** CPU time and answers of one target during one shared window. */
export interface ShareSample {
  cpuUs: number;
  requests: number;
  /** Share of the wall time the target had the CPU, %. */
  cpuPercent: number;
}

/** One shared window of a pair. */
export interface HeadToHeadWindow {
  x: ShareSample;
  y: ShareSample;
  /** y's CPU cost per request over x's: how many requests x answers for each one of y's with the same CPU. */
  ratio: number | null;
}

export interface HeadToHeadResult extends HeadToHeadPair {
  windows: HeadToHeadWindow[];
  /** Median of the windows' ratios; null when no window counted. */
  median: number | null;
}

/** The pairs to measure among the targets present: the control first, then d/b, d/c, e/d. */
export function headToHeadPairs(ids: readonly TargetId[]): HeadToHeadPair[] {
  const has = (id: TargetId): boolean => ids.includes(id);
  const pairs: HeadToHeadPair[] = [];
  if (has('b')) pairs.push({ x: 'b', y: 'b', control: true });
  if (has('d') && has('b')) pairs.push({ x: 'd', y: 'b' });
  if (has('d') && has('c')) pairs.push({ x: 'd', y: 'c' });
  if (has('e') && has('d')) pairs.push({ x: 'e', y: 'd' });
  return pairs;
}

/** cost(y) / cost(x), cost being CPU µs per answered request; null when either answered nothing. */
export function costRatio(x: ShareSample, y: ShareSample): number | null {
  if (x.requests === 0 || y.requests === 0 || x.cpuUs === 0) return null;
  return (y.cpuUs / y.requests) / (x.cpuUs / x.requests);
}

/** The pair's result over its windows. */
export function summarize(pair: HeadToHeadPair, windows: HeadToHeadWindow[]): HeadToHeadResult {
  return { ...pair, windows, median: median(windows.flatMap((w) => (w.ratio === null ? [] : [w.ratio]))) };
}

/** "d/b", or "b/b′" for the control. */
export function pairName(p: HeadToHeadPair): string {
  return p.control ? `${p.x}/${p.y}′ (control)` : `${p.x}/${p.y}`;
}
