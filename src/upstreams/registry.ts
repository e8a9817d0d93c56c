import type { UpstreamConfig } from '../config/types';
import type { Clock } from '../core/clock';
import { Upstream } from './upstream';

export type { HealthState } from './availability';
export { Upstream } from './upstream';

/** Builds and owns every upstream, its targets and their breakers. */
export class UpstreamRegistry {
  private readonly byName = new Map<string, Upstream>();

  constructor(configs: readonly UpstreamConfig[], clock: Clock) {
    for (const config of configs) this.byName.set(config.name, new Upstream(config, clock));
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

  /** Whether pre-flight may count on this upstream: one target's breaker not open and health not down. */
  isAvailable(u: Upstream): boolean {
    return u.isAvailable();
  }

  close(): void {
    for (const u of this.byName.values()) u.close();
  }
}
