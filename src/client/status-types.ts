/**
 * Shapes of the gateway's answers that clients read (README "Traffic listener endpoints" and
 * "Admin listener"), shared by the caller kit, the demo app and the dashboard.
 */

export type HealthState = 'up' | 'down' | 'unknown';
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface TargetStatus {
  state: HealthState;
  breaker: BreakerState;
  since: string;
}

export interface UpstreamStatus extends TargetStatus {
  /** One entry per target, where the gateway reports them. */
  targets?: Record<string, TargetStatus>;
  [member: string]: unknown;
}

/** `GET /status`. */
export interface GatewayStatus {
  status: 'ok' | 'degraded' | 'down';
  /** Changes when the gateway process restarts. */
  instanceId: string;
  startedAt: string;
  version?: string;
  upstreams: Record<string, UpstreamStatus>;
}

/** A `state` event of `GET /admin/breakers/stream`. */
export interface BreakerTransition {
  name: string;
  target?: string;
  from: BreakerState;
  to: BreakerState;
  at: string;
  reason?: string;
}

/** One breaker in `GET /admin/breakers`, the event stream's `snapshot`, and the answers to forcing it. */
export interface AdminBreaker {
  name: string;
  state: BreakerState;
  since: string;
  /** When a call may next pass (half-open trial or health probe); null unless open, and while forced open. */
  nextTrialAt: string | null;
  forced: 'open' | 'closed' | null;
  forcedBy?: string | null;
  /** Why it last changed state: initial, failures, trial-failed, reset-timeout, trial-succeeded, health, forced, reset. */
  reason: string;
  health: { state: HealthState; since: string | null; lastCheckAt: string | null; restartedAt: string | null; instanceId: string | null };
  stats: {
    windowMs: number;
    requests: number;
    successes: number;
    failures: number;
    timeouts: number;
    rejections: number;
    errorPercentage: number;
    latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  };
  /** Each target's own breaker (an upstream with one `url` has one, `<upstream>-1`). */
  targets?: (Omit<AdminBreaker, 'targets'> & { inFlight?: number })[];
}

/** `GET /admin/breakers` and the event stream's `snapshot` event. */
export interface BreakersSnapshot {
  generatedAt: string;
  breakers: AdminBreaker[];
}

/** Upstreams that pre-flight would refuse: health down or breaker open. */
export function lostUpstreams(status: GatewayStatus): string[] {
  return Object.entries(status.upstreams)
    .filter(([, u]) => u.state === 'down' || u.breaker === 'open')
    .map(([name]) => name)
    .sort();
}
