import type { RouteConfig } from '../config/types';
import type { UpstreamRegistry } from '../upstreams/registry';

/** Who this gateway process is; a changed instanceId tells a client it restarted. */
export interface Instance {
  readonly instanceId: string;
  readonly startedAt: number;
  readonly version: string;
}

/** One target of an upstream in `/status`. */
export interface TargetStatus {
  state: 'up' | 'down' | 'unknown';
  breaker: 'closed' | 'open' | 'half-open';
  since: string;
}

export interface UpstreamStatus {
  /** Health-check verdict; `unknown` without a healthCheck or before the first probe. */
  state: 'up' | 'down' | 'unknown';
  breaker: 'closed' | 'open' | 'half-open';
  /** When `state` or `breaker`, whichever changed last, last changed. */
  since: string;
  /** When the last health probe finished. */
  lastCheckAt: string | null;
  /** When a changed instance identity in a health answer showed that the upstream restarted. */
  restartedAt: string | null;
  /** When the upstream last came back up after being down. */
  recoveredAt: string | null;
  /** Each target (an upstream with one `url` has one, `<upstream>-1`), by its name. */
  targets: Record<string, TargetStatus>;
}

export interface GatewayStatus {
  status: 'ok' | 'degraded' | 'down';
  instanceId: string;
  startedAt: string;
  version: string;
  upstreams: Record<string, UpstreamStatus>;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * `/status` (README "Polling `/status` from a client"), from state in memory only (no upstream is called), so any number of
 * clients may poll it. An upstream is lost when pre-flight would refuse it: every target has
 * its health down or its breaker open. `ok`: nothing is lost. `down`: the gateway can serve nothing: it is
 * draining, or every route has a lost upstream among its own and its `requires` (without
 * routes: every upstream is lost). `degraded`: anything between.
 */
export function computeStatus(registry: UpstreamRegistry, instance: Instance, draining: boolean, routes?: readonly RouteConfig[]): GatewayStatus {
  const upstreams: Record<string, UpstreamStatus> = {};
  const lost = new Set<string>();
  const all = registry.all();
  for (const u of all) {
    const b = u.breaker.state();
    const health = u.health;
    if (!registry.isAvailable(u)) lost.add(u.name);
    const targets: Record<string, TargetStatus> = {};
    for (const t of u.targets) {
      const tb = t.breaker.state();
      targets[t.name] = { state: t.health.state, breaker: tb.value, since: iso(Math.max(tb.since, t.health.since ?? 0)) as string };
    }
    upstreams[u.name] = {
      state: health.state,
      breaker: b.value,
      since: iso(Math.max(b.since, health.since ?? 0)) as string,
      lastCheckAt: iso(health.lastCheckAt),
      restartedAt: iso(health.restartedAt),
      recoveredAt: iso(health.recoveredAt),
      targets,
    };
  }
  const servesNothing = routes && routes.length > 0
    ? routes.every((r) => lost.has(r.upstream) || r.requires.some((name) => lost.has(name)))
    : all.length > 0 && lost.size === all.length;
  const status = draining || servesNothing ? 'down' : lost.size > 0 ? 'degraded' : 'ok';
  return { status, instanceId: instance.instanceId, startedAt: iso(instance.startedAt) as string, version: instance.version, upstreams };
}
