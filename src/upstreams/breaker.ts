import { EventEmitter } from 'node:events';
import type { BreakerSettings } from '../config/types';
import type { Clock } from '../core/clock';
import { BreakerRejection, CountedFailure, IgnoredOutcome, Trial, type BreakerState, type Outcome, type Ticket, type Transition, type TransitionReason } from './breaker-types';
import { BUCKETS, createOpossumWindow, feed, type OpossumWindow } from './opossum-window';
import { SideWindow, snapshotOf, type StatsSnapshot } from './stats';

export { BreakerRejection, CountedFailure, IgnoredOutcome, Trial, type BreakerState, type BreakerStateName, type Outcome, type Ticket, type Transition, type TransitionReason } from './breaker-types';

interface BreakerEvents {
  transition: [Transition];
  outcome: ['success' | 'failure' | 'timeout' | 'rejection', number];
}

/**
 * One target's circuit breaker. The gateway admits calls itself, synchronously (closed: go;
 * half-open: one trial; open: refuse) and feeds opossum each admitted call's outcome once it
 * is known; opossum keeps the rolling window, decides on it when to open (its error
 * percentage over `volumeThreshold`), and runs the reset timer. The stats operators see are
 * read from that same window (`stats()`), plus a side window rotating with it for what
 * opossum does not count. Operator overrides and the health hold are kept here.
 * Stats listeners, logs, metrics and the event stream subscribe to its events; it knows none of them.
 */
export class Breaker extends EventEmitter<BreakerEvents> {
  private cb!: OpossumWindow;
  private view: BreakerState;
  private forcedState: 'open' | 'closed' | null = null;
  /** The operator call that set `forcedState`, e.g. `POST /admin/breakers/x/open`. */
  private forcedByCall: string | null = null;
  private healthDown = false;
  private healthRetryAt: number | null = null;
  private openedAt = 0;
  /** Reason to report for the next opossum event we cause ourselves. */
  private pendingReason: TransitionReason | null = null;
  /** The half-open trial in flight, or null: while it runs every other call is refused. */
  private trial: Trial | null = null;
  /** Bumped when opossum is rebuilt (reset): calls admitted before decide nothing after. */
  private generation = 0;
  private calls = 0;
  private readonly side = new SideWindow(BUCKETS);
  /** Rotates opossum's buckets and the side window's together (opossum's rotateBucketController). */
  private readonly rotation = new EventEmitter();
  private readonly rotateTimer: NodeJS.Timeout;

  constructor(
    /** The upstream's name. */
    readonly name: string,
    private readonly settings: BreakerSettings,
    private readonly maxConcurrent: number,
    private readonly clock: Clock,
    /** The target's name; the upstream's by default (one-target callers and tests). */
    readonly target: string = name,
  ) {
    super();
    this.view = { value: 'closed', since: clock.now(), reason: 'initial', forced: false };
    this.rotation.on('rotate', () => this.side.rotate());
    this.rotateTimer = setInterval(() => this.rotation.emit('rotate'), Math.max(1, Math.floor(settings.rollingWindowMs / BUCKETS)));
    this.rotateTimer.unref();
    this.cb = this.build();
  }

  state(): BreakerState {
    return this.view.value === 'open' ? { ...this.view, nextTrialAt: this.retryAt() } : this.view;
  }

  /** Whether a call would be refused right now without reaching the target. */
  isOpen(): boolean {
    return this.view.value === 'open';
  }

  /** Calls admitted and not settled yet (this generation's). */
  get inFlight(): number {
    return this.calls;
  }

  /**
   * Admission, synchronous: a ticket to hand back to `settle()`, or the refusal (counted as a
   * rejection, never seen by opossum, whose error percentage it would dilute). While half-open
   * there is no next trial time: the trial's outcome is due any moment (Retry-After 1).
   */
  admit(): Ticket | BreakerRejection {
    const value = this.view.value;
    if (value === 'open' || (value === 'half-open' && this.trial !== null)) return this.reject(new BreakerRejection('open', this.retryHintAt()));
    if (this.calls >= this.maxConcurrent) return this.reject(new BreakerRejection('overloaded', null));
    this.calls++;
    if (value === 'closed') return this.generation;
    return (this.trial = new Trial(this.generation));
  }

  /**
   * Why a call would be refused right now, without admitting one: for pre-checks that answer
   * before a call is made. Counted as a rejection when it refuses.
   */
  refusal(): BreakerRejection | null {
    const value = this.view.value;
    if (value === 'closed' || (value === 'half-open' && this.trial === null)) return null;
    return this.reject(new BreakerRejection('open', this.retryHintAt()));
  }

  /**
   * The outcome of an admitted call. opossum is fed it only where it can decide: a call
   * admitted while closed, settling while still closed; the current trial, while half-open.
   * An outcome arriving after the breaker opened, or from before a reset, changes nothing
   * (opossum would count it as a refusal or take it for the trial). `ignored` (the caller
   * went away) is fed nowhere: a trial whose caller left decides nothing, the next call is the trial.
   */
  settle(ticket: Ticket, outcome: Outcome, latencyMs: number): void {
    const isTrial = ticket instanceof Trial;
    const generation = isTrial ? ticket.generation : ticket;
    if (generation === this.generation) this.calls--;
    const current = isTrial && this.trial === ticket;
    // The trial's slot is held until its verdict lands (the transition clears it): a success
    // closes opossum a microtask later, and no second trial may slip in meanwhile.
    if (current && (outcome === 'ignored' || generation !== this.generation || !this.cb.halfOpen)) this.trial = null;
    if (outcome === 'ignored') return;
    this.side.sample(latencyMs, outcome === 'timeout');
    this.emit('outcome', outcome, latencyMs);
    if (generation !== this.generation) return;
    const cb = this.cb;
    const feeds = isTrial ? current && cb.halfOpen && this.view.value === 'half-open' : !cb.opened && !cb.halfOpen;
    if (!feeds) return;
    const reason = isTrial ? (outcome === 'success' ? 'trial-succeeded' : 'trial-failed') : 'failures';
    this.apply(reason, () => feed(cb, outcome));
  }

  /** Runs one call through admission and settles it from its result (tests, one-off callers). */
  run<T>(call: () => Promise<T>): Promise<T> {
    const ticket = this.admit();
    if (ticket instanceof BreakerRejection) return Promise.reject(ticket);
    const started = this.clock.now();
    return call().then(
      (value) => {
        this.settle(ticket, 'success', this.clock.now() - started);
        return value;
      },
      (err: unknown) => {
        const outcome: Outcome = err instanceof IgnoredOutcome ? 'ignored' : err instanceof CountedFailure && err.kind === 'timeout' ? 'timeout' : 'failure';
        this.settle(ticket, outcome, this.clock.now() - started);
        throw err;
      },
    );
  }

  /** The window that decides (opossum's), with the side window's timeouts, refusals and latency. */
  stats(): StatsSnapshot {
    return snapshotOf(this.cb.stats, this.side, this.settings.rollingWindowMs);
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
    this.side.clear();
    this.cb = this.build();
    this.refreshView('reset');
  }

  /**
   * Health checks mark the target down: open at once so callers fail fast, and stay open
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
   * Health checks mark the target up: the probe that succeeded is itself the trial call,
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
    clearInterval(this.rotateTimer);
    this.cb.shutdown();
  }

  private reject(r: BreakerRejection): BreakerRejection {
    this.side.rejection();
    this.emit('outcome', 'rejection', 0);
    return r;
  }

  private build(): OpossumWindow {
    this.trial = null;
    this.generation++;
    this.calls = 0;
    const cb = createOpossumWindow(this.target, this.settings, this.rotation);
    cb.on('open', () => {
      if (this.forcedState === 'closed') {
        this.apply('forced', () => cb.close());
        return;
      }
      // One reading for both: `since` and the next trial (openedAt + resetTimeoutMs) must be
      // exactly resetTimeoutMs apart, not one millisecond less when a tick falls between them.
      const now = this.clock.now();
      this.openedAt = now;
      this.refreshView(this.consumeReason(this.view.value === 'half-open' ? 'trial-failed' : 'failures'), now);
    });
    cb.on('halfOpen', () => {
      // opossum re-arms its reset timer on every open; a held breaker must not go half-open.
      if (this.forcedState === 'open' || this.healthDown) {
        this.apply(this.view.reason, () => cb.open());
        return;
      }
      this.refreshView('reset-timeout');
    });
    cb.on('close', () => {
      this.refreshView(this.consumeReason('trial-succeeded'));
    });
    return cb;
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
    this.emit('transition', { name: this.name, target: this.target, from: prev.value, to: next.value, at: now, reason });
  }
}
