import { GatewayError } from '../errors/gateway-error';
import type { Clock } from '../core/clock';
import { connectProbe, httpProbe, type Probe, type ProbeResult } from '../upstreams/probe';
import type { UpstreamRegistry } from '../upstreams/registry';
import type { Target } from '../upstreams/target';
import type { CompiledRoute } from './match';
import { checkPreflight, preflightSet, refusal } from './preflight';

/** Probe timeout for an upstream without a healthCheck (whose own timeoutMs applies otherwise). */
export const DEFAULT_PROBE_TIMEOUT_MS = 500;

export interface PreflightDeps {
  registry: UpstreamRegistry;
  clock: Clock;
  /** GET of `healthCheck.path` for upstreams that have one. */
  httpProbe?: Probe;
  /** Connection (and TLS handshake) only, for upstreams without a healthCheck. */
  connectProbe?: Probe;
}

/**
 * Pre-flight (README "Request flow") for every route. `preflight: state` (the default) is `checkPreflight`:
 * synchronous, from breaker and health state alone. `preflight: probe` runs the same check
 * first (it can only make the verdict stricter), then probes live each requirement whose
 * last health result is older than the route's `preflightCacheMs`: a GET of its
 * `healthCheck.path` (timeout `healthCheck.timeoutMs`), or, without a healthCheck, a bare
 * connection (timeout 500 ms). Probes run per target; an upstream passes when one of its
 * available targets does. A probe's result is recorded on its target (`lastProbe`, one of the
 * inputs of its availability) and trusted for `preflightCacheMs`; concurrent requests share
 * one probe per target. Probes, like health checks, bypass the breaker and never count as traffic.
 *
 * `check` answers synchronously whenever it can, so the common path never waits on a promise.
 */
export class Preflight {
  private readonly pending = new Map<Target, Promise<boolean>>();
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
    /** Per upstream still in question, its available targets whose last word is too old. */
    const stale: { name: string; targets: Target[] }[] = [];
    let soonest = Infinity;
    for (const name of preflightSet(route)) {
      const u = this.deps.registry.get(name);
      let known = false;
      let failedUntil = Infinity;
      const toProbe: Target[] = [];
      for (const t of u.targets) {
        if (!t.isAvailable()) continue;
        const h = t.health;
        if (h.lastCheckAt !== null && now - h.lastCheckAt < maxAge) { known = true; break; }
        const p = t.lastProbe;
        if (p && now - p.at < maxAge) {
          if (p.ok) { known = true; break; }
          failedUntil = Math.min(failedUntil, p.at + maxAge);
          continue;
        }
        toProbe.push(t);
      }
      if (known) continue;
      if (toProbe.length > 0) stale.push({ name, targets: toProbe });
      else {
        unavailable.push(name);
        soonest = Math.min(soonest, failedUntil);
      }
    }
    // Known to be unavailable already: fail fast rather than spend time probing the others.
    if (unavailable.length > 0) return refusal(route, unavailable, soonest, this.deps.clock);
    if (stale.length === 0) return null;
    return Promise.all(stale.map((s) => Promise.all(s.targets.map((t) => this.probe(t))).then((oks) => oks.includes(true)))).then((oks) => {
      const down = stale.filter((_s, i) => !oks[i]).map((s) => s.name);
      if (down.length === 0) return null;
      return refusal(route, down, this.deps.clock.now() + maxAge, this.deps.clock);
    });
  }

  /** Aborts probes in flight. */
  close(): void {
    this.controller.abort();
  }

  private probe(t: Target): Promise<boolean> {
    const running = this.pending.get(t);
    if (running) return running;
    const hc = t.config.healthCheck;
    const run: Promise<ProbeResult> = hc
      ? this.httpProbe(t.config, hc.timeoutMs, this.controller.signal)
      : this.connectProbe(t.config, DEFAULT_PROBE_TIMEOUT_MS, this.controller.signal);
    const result = run
      .catch((): ProbeResult => ({ ok: false }))
      .then((r) => {
        t.lastProbe = { at: this.deps.clock.now(), ok: r.ok };
        this.pending.delete(t);
        return r.ok;
      });
    this.pending.set(t, result);
    return result;
  }
}
