import { Router } from 'express';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/gateway-error';
import type { Clock } from '../core/clock';
import type { HealthState } from '../upstreams/availability';
import type { Breaker, BreakerState, BreakerStateName, TransitionReason } from '../upstreams/breaker';
import type { Upstream, UpstreamRegistry } from '../upstreams/registry';
import type { StatsSnapshot } from '../upstreams/stats';
import type { Target } from '../upstreams/target';

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
  /** Each target's own breaker (an upstream with one `url` has one target, `<upstream>-1`). */
  targets: TargetBreakerView[];
}

/** One target's breaker as the admin API shows it: an upstream's members, without targets, with its requests in flight. */
export type TargetBreakerView = Omit<BreakerView, 'targets'> & {
  /** Requests admitted to this target and not over yet. */
  inFlight: number;
};

export interface BreakersSnapshot {
  generatedAt: string;
  breakers: BreakerView[];
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function healthView(h: HealthState): BreakerView['health'] {
  return { state: h.state, since: iso(h.since), lastCheckAt: iso(h.lastCheckAt), restartedAt: iso(h.restartedAt), instanceId: h.instanceId };
}

function stateView(s: BreakerState, override: ReturnType<Breaker['override']>): Pick<BreakerView, 'state' | 'since' | 'nextTrialAt' | 'forced' | 'forcedBy' | 'reason'> {
  return {
    state: s.value,
    since: new Date(s.since).toISOString(),
    nextTrialAt: s.value === 'open' ? iso(s.nextTrialAt) : null,
    forced: override?.state ?? null,
    forcedBy: override?.by ?? null,
    reason: s.reason,
  };
}

export function targetView(t: Target): TargetBreakerView {
  return { name: t.name, ...stateView(t.breaker.state(), t.breaker.override()), inFlight: t.inFlight, health: healthView(t.health), stats: t.breaker.stats() };
}

/** An upstream's breaker: derived from its targets' (the best state; open only when all are). */
export function breakerView(u: Upstream): BreakerView {
  return {
    name: u.name,
    ...stateView(u.breaker.state(), u.breaker.override()),
    health: healthView(u.health),
    stats: u.stats.snapshot(),
    targets: u.targets.map(targetView),
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

/** What an action does to a breaker: an upstream's (all its targets) or one target's. */
interface Forcible {
  forceOpen(by: string): void;
  forceClose(by: string): void;
  reset(): void;
}

const ACTIONS = {
  open: (b: Forcible, by: string) => b.forceOpen(by),
  close: (b: Forcible, by: string) => b.forceClose(by),
  // A breaker's reset clears its window too: the stats are read from it.
  reset: (b: Forcible) => b.reset(),
} as const;

type Action = keyof typeof ACTIONS;

/** Whether `name` is one of the breaker actions (open, close, reset). */
export function isBreakerAction(name: string): name is Action {
  return Object.hasOwn(ACTIONS, name);
}

/**
 * GET /admin/breakers, POST /admin/breakers/{name}/open|close|reset and
 * POST /admin/breakers/{name}/targets/{target}/open|close|reset (README "Breakers").
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
    ACTIONS[action](upstream.breaker, by);
    deps.logger.warn({ event: 'breaker-override', upstream: name, action, by }, `operator ${action} on breaker ${name}`);
    res.json(breakerView(upstream));
  });
  // One target: `open` takes it out of rotation (maintenance: no new requests, those in flight
  // finish), `close`/`reset` bring it back.
  router.post('/admin/breakers/:name/targets/:target/:action', (req, res, next) => {
    const { name, target, action } = req.params;
    if (!isBreakerAction(action)) return next();
    if (!deps.actionsEnabled) {
      return next(new GatewayError('FORBIDDEN', { detail: 'No admin token is configured (admin.token), so admin actions are disabled.' }));
    }
    const t = deps.registry.has(name) ? deps.registry.get(name).target(target) : undefined;
    if (!t) return next(new GatewayError('ROUTE_NOT_FOUND', { detail: 'No upstream target of that name is configured.' }));
    const by = `POST /admin/breakers/${name}/targets/${target}/${action}`;
    ACTIONS[action](t.breaker, by);
    deps.logger.warn({ event: 'breaker-override', upstream: name, target, action, by }, `operator ${action} on target ${target} of ${name}`);
    res.json(targetView(t));
  });
  return router;
}
