import type { Clock } from './clock';

/** Whole seconds until `at`, at least 1 (docs/errors.md: Retry-After). */
export function retryAfterSeconds(at: number | null, clock: Clock): number {
  if (at === null || !Number.isFinite(at)) return 1;
  return Math.max(1, Math.ceil((at - clock.now()) / 1000));
}
