import type { TargetId } from './targets';

/** req/s of each target measured in one round; a target missing from a round was not measured in it. */
export type RoundRps = Partial<Record<TargetId, number>>;

/** The item whose key is the median (the lower middle one for an even count): a real measurement, never a blend. */
export function medianBy<T>(items: readonly T[], key: (item: T) => number): T | undefined {
  const sorted = [...items].sort((x, y) => key(x) - key(y));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** The median of `values` (the mean of the two middle ones for an even count); null when there are none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The median over rounds of x/y within each round (both measured seconds apart), over the
 * rounds that measured both; null when none did.
 */
export function medianRatio(rounds: readonly RoundRps[], x: TargetId, y: TargetId): number | null {
  return median(rounds.flatMap((r) => {
    const a = r[x];
    const b = r[y];
    return a !== undefined && b !== undefined && b > 0 ? [a / b] : [];
  }));
}
