import { GatewayError } from '../errors/gateway-error';
import type { Clock } from '../server/clock';
import type { UpstreamRegistry } from '../upstreams/registry';
import type { CompiledRoute } from './match';

/**
 * SPEC §5 pre-flight: a route's `requires` plus its own upstream must all be available
 * before a byte is forwarded. Returns the problem to answer with, or null to go on.
 * Routes without `requires` skip it: their own upstream's breaker answers CIRCUIT_OPEN.
 */
export function checkPreflight(route: CompiledRoute, registry: UpstreamRegistry, clock: Clock): GatewayError | null {
  const requires = route.config.requires;
  if (requires.length === 0) return null;
  let unavailable: string[] | null = null;
  let soonest = Infinity;
  for (const name of requires.includes(route.upstream) ? requires : [route.upstream, ...requires]) {
    const u = registry.get(name);
    if (registry.isAvailable(u)) continue;
    (unavailable ??= []).push(name);
    soonest = Math.min(soonest, u.breaker.retryAt() ?? clock.now() + (u.config.healthCheck?.intervalMs ?? 1000));
  }
  if (!unavailable) return null;
  return new GatewayError('DEPENDENCY_UNAVAILABLE', {
    detail: `Required ${unavailable.length === 1 ? 'system is' : 'systems are'} unavailable: ${unavailable.join(', ')}. Nothing was forwarded.`,
    upstream: route.upstream,
    retryAfterSeconds: retryAfterSeconds(soonest, clock),
    extra: { unavailable },
  });
}

/** Whole seconds until `at`, at least 1 (SPEC §4). */
export function retryAfterSeconds(at: number | null, clock: Clock): number {
  if (at === null || !Number.isFinite(at)) return 1;
  return Math.max(1, Math.ceil((at - clock.now()) / 1000));
}
