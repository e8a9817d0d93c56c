import type { UpstreamConfig } from '../config/types';
import { createForwarder, type Forwarder } from '../proxy/forward';
import type { Clock } from '../server/clock';
import { Breaker } from './breaker';
import { RollingStats } from './stats';

/** What active health checks know of an upstream (SPEC §5, §6). */
export interface HealthState {
  /** `unknown` when the upstream has no healthCheck, or before the first verdict. */
  state: 'up' | 'down' | 'unknown';
  /** When `state` last changed. */
  since: number | null;
  lastCheckAt: number | null;
  /** Instance identity from the last health answer, when it carries one. */
  instanceId: string | null;
  /** When a changed instance identity showed that the upstream restarted. */
  restartedAt: number | null;
  /** When the upstream last came back after being down. */
  recoveredAt: number | null;
}

/** One configured upstream and everything the gateway keeps for it. */
export interface Upstream {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly breaker: Breaker;
  readonly stats: RollingStats;
  readonly forwarder: Forwarder;
  readonly health: HealthState;
}

/** Builds and owns every upstream's breaker, stats and forwarder. */
export class UpstreamRegistry {
  private readonly byName = new Map<string, Upstream>();

  constructor(configs: readonly UpstreamConfig[], clock: Clock) {
    for (const config of configs) {
      const breaker = new Breaker(config.name, config.breaker, config.maxConcurrent, clock);
      const stats = new RollingStats(config.breaker.rollingWindowMs, clock);
      breaker.on('outcome', (outcome, latency) => stats.record(outcome, latency));
      this.byName.set(config.name, {
        name: config.name,
        config,
        breaker,
        stats,
        forwarder: createForwarder(config),
        health: { state: 'unknown', since: null, lastCheckAt: null, instanceId: null, restartedAt: null, recoveredAt: null },
      });
    }
  }

  get(name: string): Upstream {
    const u = this.byName.get(name);
    if (!u) throw new Error(`unknown upstream ${name}`); // config validation makes this a bug
    return u;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  all(): Upstream[] {
    return [...this.byName.values()];
  }

  /** Whether pre-flight may count on this upstream: breaker not open and health not down. */
  isAvailable(u: Upstream): boolean {
    const b = u.breaker.state();
    if (b.value === 'closed' && b.forced) return true;
    return b.value !== 'open' && u.health.state !== 'down';
  }

  close(): void {
    for (const u of this.byName.values()) {
      u.breaker.close();
      u.forwarder.close();
    }
  }
}
