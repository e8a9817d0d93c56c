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

/** Upstreams that pre-flight would refuse: health down or breaker open. */
export function lostUpstreams(status: GatewayStatus): string[] {
  return Object.entries(status.upstreams)
    .filter(([, u]) => u.state === 'down' || u.breaker === 'open')
    .map(([name]) => name)
    .sort();
}
