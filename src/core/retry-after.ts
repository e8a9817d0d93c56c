import type { Clock } from './clock';

/** Whole seconds until `at`, at least 1 (docs/errors.md: Retry-After). */
export function retryAfterSeconds(at: number | null, clock: Clock): number {
  if (at === null || !Number.isFinite(at)) return 1;
  return Math.max(1, Math.ceil((at - clock.now()) / 1000));
}

/** A Retry-After header (RFC 9110 §10.2.3): delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfterMs(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
