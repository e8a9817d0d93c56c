import type { UpstreamRegistry } from '../upstreams/registry';

/** Who this gateway process is; a changed instanceId tells a client it restarted. */
export interface Instance {
  readonly instanceId: string;
  readonly startedAt: number;
  readonly version: string;
}

export interface UpstreamStatus {
  state: 'up' | 'down' | 'unknown';
  breaker: 'closed' | 'open' | 'half-open';
  since: string;
  restartedAt: string | null;
}

export interface GatewayStatus {
  status: 'ok' | 'degraded' | 'down';
  instanceId: string;
  startedAt: string;
  upstreams: Record<string, UpstreamStatus>;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * SPEC §6 `/status`, from state in memory only, so any number of clients may poll it.
 * An upstream counts as lost when its health is down or its breaker is open; `down` means
 * every upstream is lost (or the gateway is draining), so the gateway can serve nothing.
 */
export function computeStatus(registry: UpstreamRegistry, instance: Instance, draining: boolean): GatewayStatus {
  const upstreams: Record<string, UpstreamStatus> = {};
  let lost = 0;
  const all = registry.all();
  for (const u of all) {
    const b = u.breaker.state();
    if (!registry.isAvailable(u)) lost++;
    upstreams[u.name] = {
      state: u.health.state,
      breaker: b.value,
      since: iso(Math.max(b.since, u.health.since ?? 0)) as string,
      restartedAt: iso(u.health.restartedAt),
    };
  }
  const status = draining || (all.length > 0 && lost === all.length) ? 'down' : lost > 0 ? 'degraded' : 'ok';
  return { status, instanceId: instance.instanceId, startedAt: iso(instance.startedAt) as string, upstreams };
}
