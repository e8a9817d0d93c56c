import { StacklessError } from '../core/stackless-error';

/* The breaker's vocabulary: its states, transitions, refusals and the outcomes it is fed. */

export type BreakerStateName = 'closed' | 'open' | 'half-open';

/** Why the breaker last changed state. */
export type TransitionReason =
  | 'initial'
  | 'failures' // error percentage over the threshold in the rolling window
  | 'trial-failed' // the half-open trial call failed
  | 'reset-timeout' // resetTimeoutMs elapsed: one trial call may pass
  | 'trial-succeeded' // the half-open trial call succeeded
  | 'health' // active health checks marked the target down or up
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
  /** The upstream's name. */
  name: string;
  /** The target's name (an upstream with one `url` has one target, `<upstream>-1`). */
  target: string;
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

/** An outcome that must count neither way (the caller went away). */
export class IgnoredOutcome extends StacklessError {}

/** What became of an admitted call, as the caller side reports it. */
export type Outcome = 'success' | 'failure' | 'timeout' | 'ignored';

/** The admission of the half-open trial; its identity tells a stale trial from the current one. */
export class Trial {
  constructor(readonly generation: number) {}
}

/** An admitted call: the opossum generation it was admitted under, or the trial. */
export type Ticket = number | Trial;
