import { EventEmitter } from 'node:events';
import type { UpstreamConfig } from '../config/types';
import type { Clock } from '../core/clock';
import { bestBreakerState, bestHealth, type HealthState } from './availability';
import type { BreakerState, Transition } from './breaker';
import { sumSnapshots, type StatsSnapshot } from './stats';
import { Target } from './target';

/**
 * An upstream's breaker as operators and pre-flight see it, derived from its targets':
 * its state is the best of theirs (open only when all are open); an operator action applies
 * to all of them. Re-emits every target's transitions (each names its target).
 */
export class UpstreamBreaker extends EventEmitter<{ transition: [Transition] }> {
  constructor(private readonly targets: readonly Target[]) {
    super();
    for (const t of targets) t.breaker.on('transition', (tr) => this.emit('transition', tr));
  }

  state(): BreakerState {
    if (this.targets.length === 1) return (this.targets[0] as Target).breaker.state();
    return bestBreakerState(this.targets.map((t) => t.breaker.state()));
  }

  isOpen(): boolean {
    return this.targets.every((t) => t.breaker.isOpen());
  }

  /** The override when every target has the same one, else null. */
  override(): { readonly state: 'open' | 'closed'; readonly by: string | null } | null {
    const first = (this.targets[0] as Target).breaker.override();
    if (first === null) return null;
    return this.targets.every((t) => t.breaker.override()?.state === first.state) ? first : null;
  }

  forceOpen(by: string | null = null): void {
    for (const t of this.targets) t.breaker.forceOpen(by);
  }

  forceClose(by: string | null = null): void {
    for (const t of this.targets) t.breaker.forceClose(by);
  }

  reset(): void {
    for (const t of this.targets) t.breaker.reset();
  }

  /** Health of every target down (tests and tools; the health checkers mark targets one by one). */
  markHealthDown(retryAt: number): void {
    for (const t of this.targets) t.breaker.markHealthDown(retryAt);
  }

  markHealthUp(): void {
    for (const t of this.targets) t.breaker.markHealthUp();
  }

  /** The soonest next trial or probe over the targets; null when none is due. */
  retryAt(): number | null {
    return soonest(this.targets.map((t) => t.breaker.retryAt()));
  }

  /** The soonest time a refused caller should try again. */
  retryHintAt(): number | null {
    return soonest(this.targets.map((t) => t.breaker.retryHintAt()));
  }
}

function soonest(times: readonly (number | null)[]): number | null {
  let min: number | null = null;
  for (const t of times) if (t !== null && (min === null || t < min)) min = t;
  return min;
}

/** One configured upstream: its targets, and the views derived from them. */
export class Upstream {
  readonly name: string;
  readonly targets: readonly Target[];
  readonly breaker: UpstreamBreaker;
  /** The targets' rolling stats, summed. */
  readonly stats: { snapshot(): StatsSnapshot };
  /** Retries in flight (the retry budget counts them). */
  retriesInFlight = 0;
  /** Requests in flight, first attempts and retries (the retry budget's base). */
  requestsInFlight = 0;
  /** Round-robin position. */
  cursor = 0;
  private readonly byName: ReadonlyMap<string, Target>;

  constructor(
    readonly config: UpstreamConfig,
    clock: Clock,
  ) {
    this.name = config.name;
    this.targets = config.targets.map((t, i) => new Target(config, t.name, t.url, i, clock));
    this.byName = new Map(this.targets.map((t) => [t.name, t]));
    this.breaker = new UpstreamBreaker(this.targets);
    this.stats = { snapshot: () => sumSnapshots(this.targets.map((t) => t.breaker.stats())) };
  }

  /** Health over the targets: up when one is up, down only when all are. */
  get health(): HealthState {
    return this.targets.length === 1 ? (this.targets[0] as Target).health : bestHealth(this.targets.map((t) => t.health));
  }

  target(name: string): Target | undefined {
    return this.byName.get(name);
  }

  /** Available when one of its targets is. */
  isAvailable(): boolean {
    for (const t of this.targets) if (t.isAvailable()) return true;
    return false;
  }

  close(): void {
    for (const t of this.targets) t.breaker.close();
  }
}
