import type { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import type { BreakerSettings } from '../config/types';
import { CountedFailure } from './breaker-types';

/** Buckets of the rolling window: opossum's, and the side window that rotates with it. */
export const BUCKETS = 10;

/** opossum in the role the gateway gives it: the rolling window and the open/close decision, fed settled outcomes. */
export type OpossumWindow = CircuitBreaker<[Error | undefined], boolean>;

/**
 * opossum's action: the outcome is decided already. A failure is thrown, so opossum counts it
 * (and opens, when it must) synchronously; a success is counted a microtask later.
 */
function replay(failure: Error | undefined): Promise<boolean> {
  if (failure) throw failure;
  return RESOLVED;
}
const RESOLVED = Promise.resolve(true);
const FAILED = new CountedFailure('failure');
const TIMED_OUT = new CountedFailure('timeout');
const noop = (): void => undefined;

/** One target's opossum, rotated by `rotation` (opossum's rotateBucketController). */
export function createOpossumWindow(name: string, settings: BreakerSettings, rotation: EventEmitter): OpossumWindow {
  return new CircuitBreaker(replay, {
    name,
    // The transport enforces connect and response timeouts itself and reports them as outcomes.
    timeout: false,
    errorThresholdPercentage: settings.errorThresholdPercentage,
    volumeThreshold: settings.volumeThreshold,
    resetTimeout: settings.resetTimeoutMs,
    rollingCountTimeout: settings.rollingWindowMs,
    rollingCountBuckets: BUCKETS,
    rollingPercentilesEnabled: false,
    rotateBucketController: rotation,
    enableSnapshots: false,
    // Admission (and so the concurrency limit) is the gateway's; opossum only ever sees settled outcomes.
    capacity: Number.MAX_SAFE_INTEGER,
  });
}

/** Feeds opossum one settled outcome of an admitted call. */
export function feed(cb: OpossumWindow, outcome: 'success' | 'failure' | 'timeout'): void {
  if (outcome === 'success') void cb.fire(undefined);
  else void cb.fire(outcome === 'timeout' ? TIMED_OUT : FAILED).catch(noop);
}
