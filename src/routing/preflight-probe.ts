import { GatewayError } from '../errors/gateway-error';
import type { Clock } from '../core/clock';
import { connectProbe, httpProbe, type Probe, type ProbeResult } from '../upstreams/probe';
import type { Upstream, UpstreamRegistry } from '../upstreams/registry';
import type { CompiledRoute } from './match';
import { checkPreflight, preflightSet, refusal } from './preflight';

/** Probe timeout for an upstream without a healthCheck (whose own timeoutMs applies otherwise). */
export const DEFAULT_PROBE_TIMEOUT_MS = 500;

interface CachedProbe {
  at: number;
  ok: boolean;
}

export interface PreflightDeps {
  registry: UpstreamRegistry;
  clock: Clock;
  /** GET of `healthCheck.path` for upstreams that have one. */
  httpProbe?: Probe;
  /** Connection (and TLS handshake) only, for upstreams without a healthCheck. */
  connectProbe?: Probe;
}

/**
 * SPEC §5 pre-flight for every route. `preflight: state` (the default) is `checkPreflight`:
 * synchronous, from breaker and health state alone. `preflight: probe` runs the same check
 * first (it can only make the verdict stricter), then probes live each requirement whose
 * last health result is older than the route's `preflightCacheMs`: a GET of its
 * `healthCheck.path` (timeout `healthCheck.timeoutMs`), or, without a healthCheck, a bare
 * connection (timeout 500 ms). A probe result is cached for `preflightCacheMs`; concurrent
 * requests share one probe per upstream. Probes, like health checks, bypass the breaker and
 * never count as traffic.
 *
 * `check` answers synchronously whenever it can, so the common path never waits on a promise.
 */
export class Preflight {
  private readonly cache = new Map<string, CachedProbe>();
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly controller = new AbortController();
  private readonly httpProbe: Probe;
  private readonly connectProbe: Probe;

  constructor(private readonly deps: PreflightDeps) {
    this.httpProbe = deps.httpProbe ?? httpProbe;
    this.connectProbe = deps.connectProbe ?? connectProbe;
  }

  /** null: go on; a GatewayError: refuse with it; a promise of either: a live probe is under way. */
  check(route: CompiledRoute): GatewayError | null | Promise<GatewayError | null> {
    const stateRefusal = checkPreflight(route, this.deps.registry, this.deps.clock);
    if (stateRefusal || route.config.preflight !== 'probe' || route.config.requires.length === 0) return stateRefusal;
    const now = this.deps.clock.now();
    const maxAge = route.config.preflightCacheMs;
    const unavailable: string[] = [];
    const stale: Upstream[] = [];
    let soonest = Infinity;
    for (const name of preflightSet(route)) {
      const u = this.deps.registry.get(name);
      if (u.health.lastCheckAt !== null && now - u.health.lastCheckAt < maxAge) continue;
      const cached = this.cache.get(name);
      if (cached && now - cached.at < maxAge) {
        if (!cached.ok) {
          unavailable.push(name);
          soonest = Math.min(soonest, cached.at + maxAge);
        }
        continue;
      }
      stale.push(u);
    }
    // Known to be unavailable already: fail fast rather than spend time probing the others.
    if (unavailable.length > 0) return refusal(route, unavailable, soonest, this.deps.clock);
    if (stale.length === 0) return null;
    return Promise.all(stale.map((u) => this.probe(u))).then((oks) => {
      const down = stale.filter((_u, i) => !oks[i]).map((u) => u.name);
      if (down.length === 0) return null;
      return refusal(route, down, this.deps.clock.now() + maxAge, this.deps.clock);
    });
  }

  /** Aborts probes in flight. */
  close(): void {
    this.controller.abort();
  }

  private probe(u: Upstream): Promise<boolean> {
    const running = this.pending.get(u.name);
    if (running) return running;
    const hc = u.config.healthCheck;
    const run: Promise<ProbeResult> = hc
      ? this.httpProbe(u.config, hc.timeoutMs, this.controller.signal)
      : this.connectProbe(u.config, DEFAULT_PROBE_TIMEOUT_MS, this.controller.signal);
    const result = run
      .catch((): ProbeResult => ({ ok: false }))
      .then((r) => {
        this.cache.set(u.name, { at: this.deps.clock.now(), ok: r.ok });
        this.pending.delete(u.name);
        return r.ok;
      });
    this.pending.set(u.name, result);
    return result;
  }
}
