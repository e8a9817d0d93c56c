import { GatewayError } from '../errors/gateway-error';
import type { Clock } from '../core/clock';
import { retryAfterSeconds } from '../core/retry-after';
import type { UpstreamRegistry } from '../upstreams/registry';
import type { CompiledRoute } from './match';

/**
 * SPEC §5 pre-flight: a route's `requires` plus its own upstream must all be available
 * (breaker not open, health not down) before a byte is forwarded. Returns the problem to
 * answer with, or null to go on. Synchronous: it reads state in memory only.
 * Routes without `requires` skip it: their own upstream's breaker answers CIRCUIT_OPEN,
 * which tells the caller just as well that nothing was sent, and names the one upstream.
 */
export function checkPreflight(route: CompiledRoute, registry: UpstreamRegistry, clock: Clock): GatewayError | null {
  if (route.config.requires.length === 0) return null;
  let unavailable: string[] | null = null;
  let soonest = Infinity;
  for (const name of preflightSet(route)) {
    const u = registry.get(name);
    if (registry.isAvailable(u)) continue;
    (unavailable ??= []).push(name);
    soonest = Math.min(soonest, u.breaker.retryHintAt() ?? clock.now() + (u.config.healthCheck?.intervalMs ?? 1000));
  }
  return unavailable ? refusal(route, unavailable, soonest, clock) : null;
}

/** The upstreams a route's pre-flight checks: its own first, then its `requires`. */
export function preflightSet(route: CompiledRoute): readonly string[] {
  const requires = route.config.requires;
  return requires.includes(route.upstream) ? requires : [route.upstream, ...requires];
}

/** DEPENDENCY_UNAVAILABLE naming the unavailable upstreams; Retry-After counts to `soonest`. */
export function refusal(route: CompiledRoute, unavailable: string[], soonest: number, clock: Clock): GatewayError {
  return new GatewayError('DEPENDENCY_UNAVAILABLE', {
    detail: `Required ${unavailable.length === 1 ? 'system is' : 'systems are'} unavailable: ${unavailable.join(', ')}. Nothing was forwarded.`,
    upstream: route.upstream,
    retryAfterSeconds: retryAfterSeconds(soonest, clock),
    extra: { unavailable },
  });
}

export { retryAfterSeconds } from '../core/retry-after';
