import { Router } from 'express';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/gateway-error';
import type { Clock } from '../core/clock';
import type { BreakerStateName, TransitionReason } from '../upstreams/breaker';
import type { Upstream, UpstreamRegistry } from '../upstreams/registry';
import type { StatsSnapshot } from '../upstreams/stats';

/** One breaker as the admin API shows it (GET /admin/breakers, the SSE `snapshot`, POST answers). */
export interface BreakerView {
  name: string;
  state: BreakerStateName;
  since: string;
  /** When a call may next pass (half-open trial or health probe); null unless open, and while forced open. */
  nextTrialAt: string | null;
  /** The operator override in force, if any. */
  forced: 'open' | 'closed' | null;
  /** The admin call that set `forced`, e.g. `POST /admin/breakers/business/open`. */
  forcedBy: string | null;
  /** Why the breaker last changed state. */
  reason: TransitionReason;
  health: {
    state: 'up' | 'down' | 'unknown';
    since: string | null;
    lastCheckAt: string | null;
    restartedAt: string | null;
    instanceId: string | null;
  };
  stats: StatsSnapshot;
}

export interface BreakersSnapshot {
  generatedAt: string;
  breakers: BreakerView[];
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function breakerView(u: Upstream): BreakerView {
  const s = u.breaker.state();
  const override = u.breaker.override();
  const h = u.health;
  return {
    name: u.name,
    state: s.value,
    since: new Date(s.since).toISOString(),
    nextTrialAt: s.value === 'open' ? iso(s.nextTrialAt) : null,
    forced: override?.state ?? null,
    forcedBy: override?.by ?? null,
    reason: s.reason,
    health: { state: h.state, since: iso(h.since), lastCheckAt: iso(h.lastCheckAt), restartedAt: iso(h.restartedAt), instanceId: h.instanceId },
    stats: u.stats.snapshot(),
  };
}

/** Every upstream's breaker, in configuration order. */
export function breakersSnapshot(registry: UpstreamRegistry, clock: Clock): BreakersSnapshot {
  return { generatedAt: new Date(clock.now()).toISOString(), breakers: registry.all().map(breakerView) };
}

export interface BreakerRoutesDeps {
  registry: UpstreamRegistry;
  clock: Clock;
  logger: Logger;
  /** False when no `admin.token` is configured: no action can be authorized, so each is 403. */
  actionsEnabled: boolean;
}

const ACTIONS = {
  open: (u: Upstream, by: string) => u.breaker.forceOpen(by),
  close: (u: Upstream, by: string) => u.breaker.forceClose(by),
  // A breaker's reset clears its window too: the stats are read from it.
  reset: (u: Upstream) => u.breaker.reset(),
} as const;

type Action = keyof typeof ACTIONS;

/** Whether `name` is one of the breaker actions (open, close, reset). */
export function isBreakerAction(name: string): name is Action {
  return Object.hasOwn(ACTIONS, name);
}

/**
 * GET /admin/breakers and POST /admin/breakers/{name}/open|close|reset (SPEC §7).
 * With a token, authorization happens before this router (auth.ts); without one, the actions
 * are refused here. The stream lives in event-stream.ts.
 */
export function breakerRoutes(deps: BreakerRoutesDeps): Router {
  const router = Router();
  router.get('/admin/breakers', (_req, res) => {
    res.json(breakersSnapshot(deps.registry, deps.clock));
  });
  router.post('/admin/breakers/:name/:action', (req, res, next) => {
    const { name, action } = req.params;
    if (!isBreakerAction(action)) return next();
    if (!deps.actionsEnabled) {
      return next(new GatewayError('FORBIDDEN', { detail: 'No admin token is configured (admin.token), so admin actions are disabled.' }));
    }
    if (!deps.registry.has(name)) {
      return next(new GatewayError('ROUTE_NOT_FOUND', { detail: 'No upstream of that name is configured.' }));
    }
    const upstream = deps.registry.get(name);
    // The path as routed (not the raw URL): it names the call without any query string.
    const by = `POST /admin/breakers/${name}/${action}`;
    ACTIONS[action](upstream, by);
    deps.logger.warn({ event: 'breaker-override', upstream: name, action, by }, `operator ${action} on breaker ${name}`);
    res.json(breakerView(upstream));
  });
  return router;
}
