import type { BreakerState } from './breaker';

/** What active health checks know of a target (docs/configuration.md "Health checks", /status). */
export interface HealthState {
  /** `unknown` when the upstream has no healthCheck, or before the first verdict. */
  state: 'up' | 'down' | 'unknown';
  /** When `state` last changed. */
  since: number | null;
  lastCheckAt: number | null;
  /** Instance identity from the last health answer, when it carries one. */
  instanceId: string | null;
  /** When a changed instance identity showed that the target restarted. */
  restartedAt: number | null;
  /** When the target last came back after being down. */
  recoveredAt: number | null;
}

/** The last live pre-flight probe of a target (routes with `preflight: probe`). */
export interface ProbeRecord {
  at: number;
  ok: boolean;
}

export const initialHealth = (): HealthState => ({ state: 'unknown', since: null, lastCheckAt: null, instanceId: null, restartedAt: null, recoveredAt: null });

/**
 * The one rule for whether a target may be counted on (pre-flight, balancing, sticky
 * sessions, /status): its breaker is not open and its health is not down. An operator who
 * forced the breaker closed overrides health too. (A route with `preflight: probe` also reads
 * the target's `lastProbe`, trusted for that route's own `preflightCacheMs`.)
 */
export function isTargetAvailable(breaker: BreakerState, health: HealthState): boolean {
  if (breaker.value === 'closed' && breaker.forced) return true;
  return breaker.value !== 'open' && health.state !== 'down';
}

const RANK = { closed: 0, 'half-open': 1, open: 2 } as const;

/** The best of several breaker states: an upstream is open only when every target is. */
export function bestBreakerState(states: readonly BreakerState[]): BreakerState {
  let best = states[0] as BreakerState;
  for (const s of states) if (RANK[s.value] < RANK[best.value] || (s.value === best.value && s.since < best.since)) best = s;
  return best;
}

/** The best of several health verdicts: up when one target is up, down only when all are down. */
export function bestHealth(states: readonly HealthState[]): HealthState {
  if (states.length === 1) return states[0] as HealthState;
  const pick = (v: HealthState['state']): HealthState | undefined => states.filter((h) => h.state === v).sort((a, b) => (a.since ?? 0) - (b.since ?? 0))[0];
  const chosen = pick('up') ?? (states.every((h) => h.state === 'down') ? pick('down') : pick('unknown')) ?? (states[0] as HealthState);
  const latest = (f: (h: HealthState) => number | null): number | null => states.reduce<number | null>((m, h) => (f(h) === null ? m : Math.max(m ?? 0, f(h) as number)), null);
  return { ...chosen, lastCheckAt: latest((h) => h.lastCheckAt), restartedAt: latest((h) => h.restartedAt), recoveredAt: latest((h) => h.recoveredAt) };
}
