import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import type { BreakerSettings } from '../config/types';
import { StacklessError } from '../errors/stackless-error';
import type { Clock } from '../server/clock';

export type BreakerStateName = 'closed' | 'open' | 'half-open';

/** Why the breaker last changed state. */
export type TransitionReason =
  | 'initial'
  | 'failures' // error percentage over the threshold in the rolling window
  | 'trial-failed' // the half-open trial call failed
  | 'reset-timeout' // resetTimeoutMs elapsed: one trial call may pass
  | 'trial-succeeded' // the half-open trial call succeeded
  | 'health' // active health checks marked the upstream down or up
  | 'forced' // an operator forced it open or closed
  | 'reset'; // an operator cleared a forced state and the statistics

/** Our typed view of the breaker; opossum's flags are never read outside this file. */
export type BreakerState =
  | { readonly value: 'closed'; readonly since: number; readonly reason: TransitionReason; readonly forced: boolean }
  | { readonly value: 'half-open'; readonly since: number; readonly reason: TransitionReason; readonly forced: false }
  | {
      readonly value: 'open';
      readonly since: number;
      readonly reason: TransitionReason;
      readonly forced: boolean;
      /** When a call may next pass (trial or health probe); null while forced open. Filled in by state(). */
      readonly nextTrialAt: number | null;
    };

export interface Transition {
  name: string;
  from: BreakerStateName;
  to: BreakerStateName;
  at: number;
  reason: TransitionReason;
}

/** Thrown (as a rejection) when the breaker refuses a call; carries what the caller needs for Retry-After. */
export class BreakerRejection extends StacklessError {
  constructor(
    readonly kind: 'open' | 'overloaded',
    readonly retryAtMs: number | null,
  ) {
    super(kind === 'open' ? 'breaker is open' : 'concurrency limit reached');
  }
}

/** A call's result that must count as a breaker failure although it is not an exception. */
export class CountedFailure extends StacklessError {
  constructor(readonly kind: 'failure' | 'timeout') {
    super(kind);
  }
}

/** An outcome that must count neither way (the caller went away). opossum counts filtered errors as successes. */
export class IgnoredOutcome extends StacklessError {}

interface BreakerEvents {
  transition: [Transition];
  outcome: ['success' | 'failure' | 'timeout' | 'rejection', number];
}

/**
 * One upstream's circuit breaker. opossum runs the state machine and the rolling error
 * window; this class adds what a gateway needs on top: operator overrides that stick,
 * a hold-open while health checks say the upstream is down, and one `transition` event
 * with a reason for every change of the state callers see. Stats, logs, metrics and the
 * event stream subscribe to its events; it knows none of them.
 */
export class Breaker extends EventEmitter<BreakerEvents> {
  private cb!: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private view: BreakerState;
  private forcedState: 'open' | 'closed' | null = null;
  /** The operator call that set `forcedState`, e.g. `POST /admin/breakers/x/open`. */
  private forcedByCall: string | null = null;
  private healthDown = false;
  private healthRetryAt: number | null = null;
  private openedAt = 0;
  /** Reason to report for the next opossum event we cause ourselves. */
  private pendingReason: TransitionReason | null = null;
  /**
   * The half-open trial in flight (a token of its own), or null. While it runs we refuse
   * every other call ourselves: opossum would refuse them too, but count each as a fire in
   * its rolling window, diluting the error percentage it opens on.
   */
  private trial: object | null = null;
  /**
   * Calls of the current opossum instance in flight. We enforce maxConcurrent with it before
   * firing: opossum's own semaphore would refuse too, but count the refusal as a fire and
   * (through errorFilter) a success in its rolling window, diluting the error percentage.
   */
  private inFlight = 0;

  constructor(
    readonly name: string,
    private readonly settings: BreakerSettings,
    private readonly maxConcurrent: number,
    private readonly clock: Clock,
  ) {
    super();
    this.view = { value: 'closed', since: clock.now(), reason: 'initial', forced: false };
    this.cb = this.build();
  }

  state(): BreakerState {
    return this.view.value === 'open' ? { ...this.view, nextTrialAt: this.retryAt() } : this.view;
  }

  /** Whether a call would be refused right now without reaching the upstream. */
  isOpen(): boolean {
    return this.view.value === 'open';
  }

  /**
   * Why a call would be refused right now without reaching the upstream, or null: the breaker
   * is open, or half-open with its one trial already in flight. Synchronous, so these paths
   * answer without a promise or a trip through opossum (whose rolling window must never see
   * them); counted as a rejection. While half-open there is no next trial time: the trial's
   * outcome is due any moment, so `retryAtMs` is null (Retry-After 1).
   */
  refusal(): BreakerRejection | null {
    const value = this.view.value;
    if (value === 'closed' || (value === 'half-open' && this.trial === null)) return null;
    this.emit('outcome', 'rejection', 0);
    return new BreakerRejection('open', this.retryHintAt());
  }

  /** Runs one exchange through the breaker. Rejects with BreakerRejection when refused. */
  run<T>(exchange: () => Promise<T>): Promise<T> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    if (this.inFlight >= this.maxConcurrent) {
      this.emit('outcome', 'rejection', 0);
      return Promise.reject(new BreakerRejection('overloaded', null));
    }
    this.inFlight++;
    const cb = this.cb;
    if (cb.halfOpen) return this.runTrial(cb, exchange);
    return (cb.fire(exchange) as Promise<T>).then(undefined, this.translate);
  }

  /** The operator override in force (direction and the call that set it), or null. */
  override(): { readonly state: 'open' | 'closed'; readonly by: string | null } | null {
    return this.forcedState === null ? null : { state: this.forcedState, by: this.forcedByCall };
  }

  /** Operator: hold the breaker open until closed or reset by an operator. `by` names the call, for the admin API. */
  forceOpen(by: string | null = null): void {
    this.forcedState = 'open';
    this.forcedByCall = by;
    this.apply('forced', () => this.cb.open());
    this.refreshView('forced');
  }

  /** Operator: hold the breaker closed (failures and health do not open it) until reset. */
  forceClose(by: string | null = null): void {
    this.forcedState = 'closed';
    this.forcedByCall = by;
    this.apply('forced', () => this.cb.close());
    this.refreshView('forced');
  }

  /** Operator: clear any forced state and the statistics; the breaker starts closed. */
  reset(): void {
    this.forcedState = null;
    this.forcedByCall = null;
    this.cb.shutdown();
    this.cb = this.build();
    this.refreshView('reset');
  }

  /**
   * Health checks mark the upstream down: open at once so callers fail fast, and stay open
   * while it is down. `retryAt` is when the next probe may bring it back.
   */
  markHealthDown(retryAt: number): void {
    this.healthRetryAt = retryAt;
    if (this.healthDown) return;
    this.healthDown = true;
    if (this.forcedState === 'closed') return;
    this.apply('health', () => this.cb.open());
    this.refreshView('health');
  }

  /**
   * Health checks mark the upstream up: the probe that succeeded is itself the trial call,
   * so the breaker closes rather than spend a caller's request on a half-open trial.
   */
  markHealthUp(): void {
    if (!this.healthDown) return;
    this.healthDown = false;
    this.healthRetryAt = null;
    if (this.forcedState !== null) return;
    this.apply('health', () => this.cb.close());
    this.refreshView('health');
  }

  /** Time (ms) of the next trial call or health probe that may close the breaker; null when none is due. */
  retryAt(): number | null {
    if (this.view.value !== 'open' || this.forcedState === 'open') return null;
    const at = this.healthDown ? this.healthRetryAt : this.openedAt + this.settings.resetTimeoutMs;
    // A probe or trial already due is under way: it is due now, never at a time already past.
    return at === null ? null : Math.max(at, this.clock.now());
  }

  /**
   * When a refused caller should try again (Retry-After): the next trial, or, while an operator
   * holds the breaker open and no trial is due, `resetTimeoutMs` from now, the pace the
   * breaker keeps on its own. (A second would have every caller poll through the incident.)
   */
  retryHintAt(): number | null {
    if (this.view.value === 'open' && this.forcedState === 'open') return this.clock.now() + this.settings.resetTimeoutMs;
    return this.retryAt();
  }

  close(): void {
    this.trial = null;
    this.cb.shutdown();
  }

  private build(): CircuitBreaker<[() => Promise<unknown>], unknown> {
    this.trial = null;
    // A new instance has its own semaphore; calls still running on a shut-down one are not ours to count.
    this.inFlight = 0;
    const cb = new CircuitBreaker((exchange: () => Promise<unknown>) => exchange(), {
      name: this.name,
      // The exchange enforces its own connect and response timeouts and aborts the socket;
      // opossum's timer would only reject the promise and leave the request running.
      timeout: false,
      errorThresholdPercentage: this.settings.errorThresholdPercentage,
      volumeThreshold: this.settings.volumeThreshold,
      resetTimeout: this.settings.resetTimeoutMs,
      rollingCountTimeout: this.settings.rollingWindowMs,
      rollingCountBuckets: 10,
      rollingPercentilesEnabled: false,
      capacity: this.maxConcurrent,
      // Our own refusals and callers going away are not upstream failures.
      errorFilter: (err: unknown) => err instanceof IgnoredOutcome || (err as { code?: string }).code === 'ESEMLOCKED',
    });
    cb.on('open', () => {
      if (this.forcedState === 'closed') {
        this.apply('forced', () => cb.close());
        return;
      }
      // One reading for both: `since` and the next trial (openedAt + resetTimeoutMs) must be
      // exactly resetTimeoutMs apart, not one millisecond less when a tick falls between them.
      const now = this.clock.now();
      this.openedAt = now;
      // opossum re-arms its reset timer on every open; a held breaker must not go half-open.
      this.refreshView(this.consumeReason(this.view.value === 'half-open' ? 'trial-failed' : 'failures'), now);
    });
    cb.on('halfOpen', () => {
      if (this.forcedState === 'open' || this.healthDown) {
        this.apply(this.view.reason, () => cb.open());
        return;
      }
      this.refreshView('reset-timeout');
    });
    cb.on('close', () => {
      this.refreshView(this.consumeReason('trial-succeeded'));
    });
    // Every fire counted in `inFlight` ends in exactly one of: success (not ESEMLOCKED), failure,
    // reject, semaphoreLocked. (The last two cannot happen now that run() refuses first.)
    // opossum reports a filtered error (caller gone, ESEMLOCKED) as a success; it is neither.
    cb.on('success', (r: unknown, latency: number) => {
      if ((r as { code?: string } | undefined)?.code === 'ESEMLOCKED') return;
      this.inFlight--;
      if (r instanceof IgnoredOutcome) return;
      this.emit('outcome', 'success', latency);
    });
    cb.on('failure', (err: unknown, latency: number) => {
      this.inFlight--;
      this.emit('outcome', err instanceof CountedFailure && err.kind === 'timeout' ? 'timeout' : 'failure', latency);
    });
    cb.on('reject', () => {
      this.inFlight--;
      this.emit('outcome', 'rejection', 0);
    });
    cb.on('semaphoreLocked', () => {
      this.inFlight--;
      this.emit('outcome', 'rejection', 0);
    });
    return cb;
  }

  /** opossum's refusals as ours; shared by every call, so the closed path allocates no closure for it. */
  private readonly translate = (err: unknown): never => {
    const code = (err as { code?: string }).code;
    if (code === 'EOPENBREAKER') throw new BreakerRejection('open', this.retryHintAt());
    if (code === 'ESEMLOCKED') throw new BreakerRejection('overloaded', null);
    throw err;
  };

  /**
   * The half-open trial, run beside opossum rather than through it: opossum would count a
   * caller going away as a success and close the breaker on no evidence. Its verdict is
   * applied with opossum's public close()/open(); a trial whose caller went away changes
   * nothing, so the breaker stays half-open and the next call is the trial. (The trial is
   * left out of opossum's rolling window; the breaker's own stats record it.) `trial` is a
   * token, so a trial that began before a reset or a change of state decides nothing.
   */
  private runTrial<T>(cb: CircuitBreaker<[() => Promise<unknown>], unknown>, exchange: () => Promise<T>): Promise<T> {
    const trial = {};
    this.trial = trial;
    const startedAt = Date.now();
    /** Whether this trial still decides: still the trial, of this opossum instance, which is still half-open. */
    const settle = (): boolean => {
      if (cb === this.cb) this.inFlight--;
      const current = this.trial === trial;
      if (current) this.trial = null;
      return current && cb === this.cb && cb.halfOpen;
    };
    return exchange().then(
      (value) => {
        const decides = settle();
        this.emit('outcome', 'success', Date.now() - startedAt);
        if (decides) this.apply('trial-succeeded', () => cb.close());
        return value;
      },
      (err: unknown) => {
        const decides = settle();
        if (err instanceof IgnoredOutcome) throw err;
        this.emit('outcome', err instanceof CountedFailure && err.kind === 'timeout' ? 'timeout' : 'failure', Date.now() - startedAt);
        if (decides) this.apply('trial-failed', () => cb.open());
        throw err;
      },
    );
  }

  /** Runs an opossum call we initiate, tagging the transition it causes with our reason. */
  private apply(reason: TransitionReason, action: () => void): void {
    this.pendingReason = reason;
    try {
      action();
    } finally {
      this.pendingReason = null;
    }
  }

  private consumeReason(fallback: TransitionReason): TransitionReason {
    return this.pendingReason ?? fallback;
  }

  /** Derives the view from opossum plus our overrides, and emits a transition when its state changed. */
  private refreshView(reason: TransitionReason, now = this.clock.now()): void {
    const forced = this.forcedState !== null;
    let next: BreakerState;
    if (this.forcedState === 'open' || (this.cb.opened && !this.cb.halfOpen) || (this.healthDown && this.forcedState !== 'closed')) {
      next = { value: 'open', since: now, reason, forced, nextTrialAt: null };
    } else if (this.cb.halfOpen) {
      next = { value: 'half-open', since: now, reason, forced: false };
    } else {
      next = { value: 'closed', since: now, reason, forced };
    }
    const prev = this.view;
    if (prev.value === next.value) {
      // Forcing a breaker into the state it is in (or resetting a closed one) is no transition:
      // only the forced flag changes, and `since`/`reason` keep describing the last real change.
      if (prev.forced !== next.forced) this.view = { ...prev, forced: next.forced } as BreakerState;
      return;
    }
    this.view = next;
    // Into half-open: no trial yet. Out of it: whatever trial ran is over for the state machine.
    this.trial = null;
    this.emit('transition', { name: this.name, from: prev.value, to: next.value, at: now, reason });
  }
}
