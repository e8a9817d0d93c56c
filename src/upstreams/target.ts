import type { UpstreamConfig } from '../config/types';
import type { Clock } from '../core/clock';
import { initialHealth, isTargetAvailable, type HealthState, type ProbeRecord } from './availability';
import { Breaker } from './breaker';

/**
 * One instance of an upstream and everything the gateway keeps for it: its breaker (with the
 * concurrency limit), its health, its last pre-flight probe. The transport to it belongs to
 * the proxy layer, found by `index`.
 */
export class Target {
  readonly breaker: Breaker;
  readonly health: HealthState = initialHealth();
  /** Written by pre-flight's live probes. */
  lastProbe: ProbeRecord | null = null;
  /** The upstream's settings with this target's url: what probes and the transport use. */
  readonly config: UpstreamConfig;

  constructor(
    /** The upstream's configuration. */
    upstream: UpstreamConfig,
    readonly name: string,
    readonly url: string,
    /** Position in the upstream's `targets`. */
    readonly index: number,
    clock: Clock,
  ) {
    this.config = url === upstream.url ? upstream : { ...upstream, url };
    this.breaker = new Breaker(upstream.name, upstream.breaker, upstream.maxConcurrent, clock, name);
  }

  get upstreamName(): string {
    return this.config.name;
  }

  /** Requests admitted to this target and not over yet (least-request balancing reads it). */
  get inFlight(): number {
    return this.breaker.inFlight;
  }

  /** Breaker not open and health not down (see availability.ts). */
  isAvailable(): boolean {
    return isTargetAvailable(this.breaker.state(), this.health);
  }

  /** When this target may next be available (Retry-After); null when no time is known. */
  retryHintAt(): number | null {
    return this.breaker.retryHintAt();
  }
}
