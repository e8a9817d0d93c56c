import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { HealthCheckSettings } from '../config/types';
import type { Clock } from '../core/clock';
import { httpProbe, type Probe, type ProbeResult } from './probe';
import type { HealthState } from './availability';
import type { Target } from './target';

export type HealthStateName = HealthState['state'];

/** Emitted when an upstream's health verdict changes. */
export interface HealthChange {
  /** The upstream's name. */
  name: string;
  target: string;
  from: HealthStateName;
  to: HealthStateName;
  at: number;
}

/** Emitted when a health answer carries an instance identity other than the last one seen. */
export interface UpstreamRestart {
  /** The upstream's name. */
  name: string;
  target: string;
  at: number;
  previousInstanceId: string;
  instanceId: string;
}

interface HealthCheckerEvents {
  health: [HealthChange];
  restart: [UpstreamRestart];
}

export interface HealthCheckerDeps {
  clock: Clock;
  logger: Logger;
  /** The probe to run; plain HTTP GET of `healthCheck.path` unless a test injects its own. */
  probe?: Probe;
  /** Source of randomness for the jitter, in [0, 1). */
  random?: () => number;
}

/** Each interval is stretched or shrunk by up to this share, so probes of many upstreams drift apart. */
export const JITTER = 0.1;

/**
 * Active health checks of one target (docs/configuration.md "Health checks"). Probes `healthCheck.path` every
 * `intervalMs` (± 10 % jitter; the first probe within the first 10 % of an interval), one
 * at a time, and keeps `upstream.health` current:
 *
 * - `unhealthyThreshold` failed probes in a row (non-2xx, error, or no full answer within
 *   `timeoutMs`) mark it `down` and open its breaker at once, so callers get CIRCUIT_OPEN
 *   without first spending their requests on timeouts.
 * - `healthyThreshold` good probes in a row mark a `down` upstream `up` again and CLOSE its
 *   breaker: the probes that succeeded already were the trial, so no caller's request is
 *   spent on a half-open trial that could fail. From `unknown` (just started) one good probe
 *   is enough, as there is no failure to outlive.
 * - A changed instance identity in a health answer (any status) is recorded as a restart.
 *
 * Probes bypass the breaker and the forwarder, so they never count as caller traffic.
 * Timers are unref'd; `close()` stops them and aborts a probe in flight.
 */
export class HealthChecker extends EventEmitter<HealthCheckerEvents> {
  readonly name: string;
  /** How log lines name what is probed: the upstream, or with several targets, the target of it. */
  private readonly label: string;
  private readonly settings: HealthCheckSettings;
  private readonly probe: Probe;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: AbortController | undefined;
  private running = false;
  private failures = 0;
  private successes = 0;
  /** When the next probe is due, or null while one runs or the checker is stopped. */
  private nextAt: number | null = null;

  constructor(
    readonly target: Target,
    private readonly deps: HealthCheckerDeps,
  ) {
    super();
    if (!target.config.healthCheck) throw new Error(`upstream ${target.upstreamName} has no healthCheck`);
    this.name = target.upstreamName;
    this.label = target.config.targets.length === 1 ? `upstream ${this.name}` : `target ${target.name} of upstream ${this.name}`;
    this.settings = target.config.healthCheck;
    this.probe = deps.probe ?? httpProbe;
    this.random = deps.random ?? Math.random;
  }

  /** Starts probing; the first probe runs within the first tenth of an interval. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(Math.round(this.random() * this.settings.intervalMs * JITTER));
  }

  /** Stops probing and aborts a probe in flight (its result is ignored). */
  close(): void {
    this.running = false;
    this.nextAt = null;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight?.abort();
    this.inFlight = undefined;
  }

  /** When the next scheduled probe runs (ms since the epoch), or null while a probe runs or when stopped. */
  get nextProbeAt(): number | null {
    return this.nextAt;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.nextAt = this.deps.clock.now() + delayMs;
    this.timer = setTimeout(() => void this.runOnce(), delayMs);
    this.timer.unref();
  }

  /** The next interval with jitter: intervalMs × [0.9, 1.1). */
  private nextDelay(): number {
    return Math.max(1, Math.round(this.settings.intervalMs * (1 + (this.random() * 2 - 1) * JITTER)));
  }

  private async runOnce(): Promise<void> {
    this.timer = undefined;
    this.nextAt = null;
    const controller = new AbortController();
    this.inFlight = controller;
    let result: ProbeResult;
    try {
      result = await this.probe(this.target.config, this.settings.timeoutMs, controller.signal);
    } catch (err) {
      result = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (!this.running || controller.signal.aborted) return;
    this.inFlight = undefined;
    // Schedule first, so a verdict of down can tell the breaker when the next probe runs.
    this.schedule(this.nextDelay());
    this.record(result);
  }

  /** Applies one probe's result to the health state, the breaker, the log and the listeners. */
  private record(result: ProbeResult): void {
    const now = this.deps.clock.now();
    const health = this.target.health;
    health.lastCheckAt = now;
    if (result.instanceId !== undefined) this.observeInstance(result.instanceId, now);
    if (result.ok) {
      this.failures = 0;
      this.successes++;
      const needed = health.state === 'unknown' ? 1 : this.settings.healthyThreshold;
      if (health.state !== 'up' && this.successes >= needed) this.change('up', now);
      return;
    }
    this.successes = 0;
    this.failures++;
    if (health.state === 'down') {
      // Still down: tell the breaker when it may next come back (for Retry-After).
      this.target.breaker.markHealthDown(this.retryAt());
      return;
    }
    if (this.failures >= this.settings.unhealthyThreshold) this.change('down', now, result.error);
  }

  /** The soonest moment the upstream may be up again: after `healthyThreshold` good probes. */
  private retryAt(): number {
    const next = this.nextAt ?? this.deps.clock.now() + this.settings.intervalMs;
    return next + (this.settings.healthyThreshold - 1) * this.settings.intervalMs;
  }

  private change(to: 'up' | 'down', now: number, error?: string): void {
    const health = this.target.health;
    const from = health.state;
    health.state = to;
    health.since = now;
    if (to === 'up' && from === 'down') health.recoveredAt = now;
    // Logged before the breaker reacts, so the log reads cause → effect.
    const fields = { event: 'health-change', upstream: this.name, target: this.target.name, from, to, at: new Date(now).toISOString(), ...(error ? { error } : {}) };
    if (to === 'down') this.deps.logger.warn(fields, `${this.label} is down (${error ?? 'failed'}; ${this.failures} failed health checks in a row)`);
    else this.deps.logger.info(fields, from === 'down' ? `${this.label} recovered` : `${this.label} is up`);
    if (to === 'down') this.target.breaker.markHealthDown(this.retryAt());
    else this.target.breaker.markHealthUp();
    this.emit('health', { name: this.name, target: this.target.name, from, to, at: now });
  }

  private observeInstance(instanceId: string, now: number): void {
    const health = this.target.health;
    const previousInstanceId = health.instanceId;
    health.instanceId = instanceId;
    if (previousInstanceId === null || previousInstanceId === instanceId) return;
    health.restartedAt = now;
    this.deps.logger.warn(
      { event: 'upstream-restart', upstream: this.name, target: this.target.name, previousInstanceId, instanceId, at: new Date(now).toISOString() },
      `${this.label} restarted (instance ${previousInstanceId} → ${instanceId})`,
    );
    this.emit('restart', { name: this.name, target: this.target.name, at: now, previousInstanceId, instanceId });
  }
}
