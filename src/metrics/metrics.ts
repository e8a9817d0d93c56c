import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, type Registry } from 'prom-client';
import type { RequestContext } from '../server/request-context';
import type { RelayObserver } from '../proxy/relay';
import type { RequestObserver, TrafficState } from '../server/traffic';
import type { BreakerStateName, Transition } from '../upstreams/breaker';
import type { UpstreamRegistry } from '../upstreams/registry';
import { RequestCounter, RequestHistogram, type CounterSeries, type HistogramSeries } from './request-series';

/** Latency buckets (seconds) for a gateway: 1 ms (a refusal) to 30 s (a slow upstream's timeout). */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const BREAKER_STATES: readonly BreakerStateName[] = ['closed', 'open', 'half-open'];
const HEALTH_STATES = ['up', 'down', 'unknown'] as const;
/** Any other method is counted as OTHER: a label must never take a value the caller chose freely. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface MetricsOptions {
  /** Where the metrics are registered; the caller owns it (no global default registry). */
  register: Registry;
  registry: UpstreamRegistry;
  state: TrafficState;
  /** Paths the traffic listener answers itself (/healthz, …); a fixed set, so they may be route labels. */
  ownPaths?: ReadonlySet<string>;
  /** Process metrics (CPU, memory, event loop, GC); off only in tests that build many gateways. */
  processMetrics?: boolean;
}

interface RequestChildren {
  count: CounterSeries;
  /** Created at the first observation, so a combination only ever counted has no empty histogram. */
  duration: HistogramSeries | undefined;
  durationKey: string;
  durationLabels: Readonly<Record<string, string>>;
}

/** A standard method as itself, anything else as OTHER: label values stay bounded. */
function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : 'OTHER';
}

/**
 * The gateway's Prometheus metrics (SPEC §7), all prefixed `breakwater_`:
 * - `requests_total{route,upstream,method,status,status_class,code}` and
 *   `request_duration_seconds{route,upstream,method,status_class}`, from a RequestObserver;
 * - `breaker_state{upstream,state}` (1 for the current state, 0 for the others),
 *   `breaker_forced{upstream}`, `upstream_health{upstream,state}` and `requests_in_flight`,
 *   read from the live objects at scrape time;
 * - `breaker_transitions_total{upstream,from,to,reason}`, from the breakers' events;
 * - process metrics from prom-client's default collectors.
 * Label values come from configuration and fixed sets only (route = the configured prefix,
 * "" when no route matched), never from raw paths or ids, so cardinality stays bounded.
 */
export class Metrics {
  readonly register: Registry;
  /** Push into the traffic handler's observers; runs once per request, so it is kept cheap. */
  readonly observe: RequestObserver;
  /**
   * Counts a request refused on the raw socket before any handler saw it (bad framing,
   * headers too large or too slow, CONNECT): no route, no upstream, no duration.
   */
  readonly countRefused: (method: string | undefined, status: number, code: string) => void;
  /** Retries on another target and retries the budget refused (docs/failover.md). */
  readonly relayObserver: RelayObserver;
  private readonly detach: (() => void)[] = [];

  constructor(options: MetricsOptions) {
    const { register, registry, state } = options;
    this.register = register;
    const ownPaths = options.ownPaths ?? new Set<string>();
    if (options.processMetrics ?? true) collectDefaultMetrics({ register, prefix: 'breakwater_' });

    // The two series every request touches are counted outside prom-client's classes (see
    // request-series.ts); the registry formats them like its own.
    const requests = new RequestCounter(
      'breakwater_requests_total',
      'Requests on the traffic listener by matched route, upstream, the target that answered last ("" when none was tried), method, HTTP status and gateway error code ("" for an upstream\'s own answer).',
    );
    requests.registerIn(register);
    const duration = new RequestHistogram(
      'breakwater_request_duration_seconds',
      'Time from a request\'s arrival until its response was over, by matched route, upstream, method and status class.',
      DURATION_BUCKETS,
    );
    duration.registerIn(register);
    const transitions = new Counter({
      name: 'breakwater_breaker_transitions_total',
      help: 'Breaker state changes by upstream, target, from, to and reason.',
      labelNames: ['upstream', 'target', 'from', 'to', 'reason'],
      registers: [register],
    });
    const retries = new Counter({
      name: 'breakwater_retries_total',
      help: 'Requests sent again to another target, by upstream, the target retried on, and what ended the attempt before (not-forwarded, connection-lost, timeout, status).',
      labelNames: ['upstream', 'target', 'reason'],
      registers: [register],
    });
    const budgetRefusals = new Counter({
      name: 'breakwater_retry_budget_refusals_total',
      help: 'Retries the rules allowed but the retry budget refused, by upstream.',
      labelNames: ['upstream'],
      registers: [register],
    });
    for (const u of registry.all()) budgetRefusals.inc({ upstream: u.name }, 0);
    new Gauge({
      name: 'breakwater_breaker_state',
      help: 'Breaker state per upstream target: 1 for the current state, 0 for the others.',
      labelNames: ['upstream', 'target', 'state'],
      registers: [register],
      collect() {
        for (const u of registry.all()) {
          for (const t of u.targets) {
            const current = t.breaker.state().value;
            for (const s of BREAKER_STATES) this.set({ upstream: u.name, target: t.name, state: s }, s === current ? 1 : 0);
          }
        }
      },
    });
    new Gauge({
      name: 'breakwater_breaker_forced',
      help: 'Whether an operator holds the target\'s breaker open or closed (1) or it runs automatically (0).',
      labelNames: ['upstream', 'target'],
      registers: [register],
      collect() {
        for (const u of registry.all()) for (const t of u.targets) this.set({ upstream: u.name, target: t.name }, t.breaker.override() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'breakwater_upstream_health',
      help: 'Active health-check verdict per upstream target: 1 for the current state (up, down or unknown), 0 for the others.',
      labelNames: ['upstream', 'target', 'state'],
      registers: [register],
      collect() {
        for (const u of registry.all()) {
          for (const t of u.targets) {
            for (const s of HEALTH_STATES) this.set({ upstream: u.name, target: t.name, state: s }, s === t.health.state ? 1 : 0);
          }
        }
      },
    });
    new Gauge({
      name: 'breakwater_requests_in_flight',
      help: 'Requests on the traffic listener whose response is not over yet.',
      registers: [register],
      collect() {
        this.set(state.inFlight);
      },
    });

    for (const u of registry.all()) {
      const onTransition = (t: Transition): void => transitions.inc({ upstream: t.name, target: t.target, from: t.from, to: t.to, reason: t.reason });
      u.breaker.on('transition', onTransition);
      this.detach.push(() => u.breaker.off('transition', onTransition));
    }

    // The set of label combinations is bounded, so a request finds its series by one string key.
    const children = new Map<string, RequestChildren>();
    /** The series of one label combination; status "" means the caller went away before any answer. */
    const childOf = (route: string, upstream: string, target: string, method: string, status: string, code: string): RequestChildren => {
      const key = `${route}\u0000${upstream}\u0000${target}\u0000${method}\u0000${status}\u0000${code}`;
      let child = children.get(key);
      if (child === undefined) {
        const statusClass = status === '' ? 'aborted' : `${status.charAt(0)}xx`;
        child = {
          count: requests.series(key, { route, upstream, target, method, status, status_class: statusClass, code }),
          durationKey: `${route}\u0000${upstream}\u0000${method}\u0000${statusClass}`,
          durationLabels: { route, upstream, method, status_class: statusClass },
          duration: undefined,
        };
        children.set(key, child);
      }
      return child;
    };
    this.observe = (ctx: RequestContext, req: IncomingMessage, res: ServerResponse): void => {
      const status = res.headersSent ? String(res.statusCode) : '';
      const targets = ctx.targets;
      const child = childOf(ctx.route ?? ownPathOf(req, ownPaths), ctx.upstream ?? '', targets === undefined ? '' : (targets[targets.length - 1] as string), methodLabel(req.method), status, ctx.code ?? '');
      child.count.value++;
      (child.duration ??= duration.series(child.durationKey, child.durationLabels)).observe((performance.now() - ctx.startedAt) / 1000);
    };
    this.relayObserver = {
      retry: (upstream, to, reason) => retries.inc({ upstream, target: to, reason }),
      budgetRefused: (upstream) => budgetRefusals.inc({ upstream }),
    };
    // No duration sample for these: none was measured.
    this.countRefused = (method, status, code) => void childOf('', '', '', methodLabel(method), String(status), code).count.value++;
  }

  /** Prometheus text exposition of everything registered. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.register.contentType, body: await this.register.metrics() };
  }

  /** Stops listening to the breakers. */
  close(): void {
    for (const d of this.detach) d();
    this.detach.length = 0;
  }
}

/** The own endpoint's path (/healthz, …) when the request was for one, else ""; req.url is not rewritten for those. */
function ownPathOf(req: IncomingMessage, ownPaths: ReadonlySet<string>): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const p = q === -1 ? url : url.slice(0, q);
  return ownPaths.has(p) ? p : '';
}
