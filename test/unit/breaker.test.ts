/**
 * The breaker's state machine (src/upstreams/breaker.ts) on real, short intervals: opossum
 * runs its own timers, so the reset timeout is 80 ms here rather than faked.
 */
import { Breaker, BreakerRejection, CountedFailure, IgnoredOutcome, type Transition } from '../../src/upstreams/breaker';
import { systemClock } from '../../src/core/clock';

const RESET_MS = 80;
const settings = { errorThresholdPercentage: 50, volumeThreshold: 2, resetTimeoutMs: RESET_MS, rollingWindowMs: 10000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const ok = (): Promise<string> => Promise.resolve('ok');
const failure = (): Promise<never> => Promise.reject(new CountedFailure('failure'));
const ignored = (): Promise<never> => Promise.reject(new IgnoredOutcome('caller went away'));

/** A call that settles when the test says so. */
function deferred(): { call: () => Promise<string>; resolve(): void; reject(err: Error): void; started: () => boolean } {
  let resolve!: (v: string) => void;
  let reject!: (e: Error) => void;
  let started = false;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    call: () => {
      started = true;
      return promise;
    },
    resolve: () => resolve('trial ok'),
    reject: (e) => reject(e),
    started: () => started,
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

async function waitForState(b: Breaker, value: string, ms = RESET_MS * 4): Promise<void> {
  const deadline = Date.now() + ms;
  while (b.state().value !== value) {
    if (Date.now() > deadline) throw new Error(`breaker did not become ${value} (is ${b.state().value})`);
    await sleep(5);
  }
}

describe('Breaker', () => {
  let b: Breaker;
  let transitions: Transition[];
  let outcomes: string[];

  beforeEach(() => {
    b = new Breaker('business', settings, 100, systemClock);
    transitions = [];
    outcomes = [];
    b.on('transition', (t) => transitions.push(t));
    b.on('outcome', (o) => outcomes.push(o));
  });
  afterEach(() => b.close());

  const trip = async (): Promise<void> => {
    await rejection(b.run(failure));
    await rejection(b.run(failure));
    expect(b.state().value).toBe('open');
  };

  it('starts closed and passes calls through', async () => {
    expect(b.state()).toMatchObject({ value: 'closed', reason: 'initial', forced: false });
    await expect(b.run(ok)).resolves.toBe('ok');
    expect(outcomes).toEqual(['success']);
  });

  it('stays closed below volumeThreshold, opens once failures pass the threshold', async () => {
    await rejection(b.run(failure));
    expect(b.state().value).toBe('closed');
    await rejection(b.run(failure));
    expect(b.state()).toMatchObject({ value: 'open', reason: 'failures', forced: false });
    expect(transitions.map((t) => [t.from, t.to, t.reason])).toEqual([['closed', 'open', 'failures']]);
  });

  it('stays closed while the error percentage is at or below the threshold', async () => {
    await b.run(ok);
    await rejection(b.run(failure));
    await b.run(ok);
    await rejection(b.run(failure));
    expect(b.state().value).toBe('closed'); // 50 % is not over 50 %
  });

  it('the next trial is exactly resetTimeoutMs after `since`, even when the clock ticks between readings', async () => {
    // A clock that moves on by 1 ms at every reading: two readings for one transition would show.
    let t = 1_700_000_000_000;
    const ticking = new Breaker('ticking', settings, 100, { now: () => t++ });
    try {
      await rejection(ticking.run(failure));
      await rejection(ticking.run(failure));
      const state = ticking.state();
      expect(state.value).toBe('open');
      expect(state.value === 'open' && (state.nextTrialAt as number) - state.since).toBe(RESET_MS);
    } finally {
      ticking.close();
    }
  });

  it('when open, refuses at once without calling, with the time of the next trial', async () => {
    await trip();
    let called = false;
    const before = Date.now();
    const err = await rejection(b.run(() => ((called = true), ok())));
    expect(err).toBeInstanceOf(BreakerRejection);
    expect((err as BreakerRejection).kind).toBe('open');
    const at = (err as BreakerRejection).retryAtMs as number;
    expect(at).toBeGreaterThan(before);
    expect(at).toBeLessThanOrEqual(before + RESET_MS);
    expect(called).toBe(false);
    const state = b.state();
    expect(state.value === 'open' && state.nextTrialAt).toBe(at);
    expect(outcomes).toContain('rejection');
  });

  it('after resetTimeoutMs goes half-open and lets exactly one trial through; its success closes', async () => {
    await trip();
    await waitForState(b, 'half-open');
    expect(b.state().reason).toBe('reset-timeout');
    const trial = deferred();
    const first = b.run(trial.call);
    let secondCalled = false;
    const second = await rejection(b.run(() => ((secondCalled = true), ok())));
    expect(trial.started()).toBe(true);
    expect(second).toBeInstanceOf(BreakerRejection);
    expect(secondCalled).toBe(false);
    trial.resolve();
    await expect(first).resolves.toBe('trial ok');
    expect(b.state()).toMatchObject({ value: 'closed', reason: 'trial-succeeded' });
    expect(transitions.map((t) => `${t.from}>${t.to}:${t.reason}`)).toEqual(['closed>open:failures', 'open>half-open:reset-timeout', 'half-open>closed:trial-succeeded']);
  });

  it('while half-open, refusal() lets the trial through and then refuses synchronously until it settles', async () => {
    await trip();
    await waitForState(b, 'half-open');
    expect(b.refusal()).toBeNull(); // no trial yet: the next call is it
    const trial = deferred();
    const first = b.run(trial.call);
    const refused = b.refusal();
    expect(refused).toBeInstanceOf(BreakerRejection);
    expect(refused).toMatchObject({ kind: 'open', retryAtMs: null });
    expect(outcomes.filter((o) => o === 'rejection')).toHaveLength(1);
    trial.resolve();
    await first;
    expect(b.refusal()).toBeNull();
    expect(b.state().value).toBe('closed');
  });

  it('calls refused while the trial runs do not dilute the error percentage: the first failure after recovery reopens', async () => {
    // 2 failures opened it; 1 trial succeeded. Were the 19 refusals fires in opossum's window,
    // the error rate after one more failure would be 3/23, and it would take 19 more to reopen.
    await trip();
    await waitForState(b, 'half-open');
    const trial = deferred();
    const first = b.run(trial.call);
    let called = 0;
    const others = Array.from({ length: 19 }, () => rejection(b.run(() => (called++, ok()))));
    trial.resolve();
    await first;
    for (const err of await Promise.all(others)) expect(err).toMatchObject({ kind: 'open' });
    expect(called).toBe(0);
    expect(b.state().value).toBe('closed');
    await rejection(b.run(failure));
    expect(b.state()).toMatchObject({ value: 'open', reason: 'failures' }); // 3 failures of 4 calls
  });

  it('a trial from before an operator reset, settling late, does not release the current trial', async () => {
    await trip();
    await waitForState(b, 'half-open');
    const stale = deferred();
    const staleRun = b.run(stale.call);
    b.reset();
    expect(b.refusal()).toBeNull();
    await trip();
    await waitForState(b, 'half-open');
    const current = deferred();
    const currentRun = b.run(current.call);
    stale.resolve();
    await staleRun;
    expect(b.refusal()).toBeInstanceOf(BreakerRejection); // the current trial still runs
    current.resolve();
    await currentRun;
    expect(b.state().value).toBe('closed');
  });

  it('a failed trial re-opens it, and the next trial comes resetTimeoutMs later', async () => {
    await trip();
    await waitForState(b, 'half-open');
    await rejection(b.run(failure));
    expect(b.state()).toMatchObject({ value: 'open', reason: 'trial-failed' });
    expect(await rejection(b.run(ok))).toBeInstanceOf(BreakerRejection);
    await waitForState(b, 'half-open');
    await b.run(ok);
    expect(b.state().value).toBe('closed');
  });

  it('a trial whose caller went away decides nothing: still half-open, and the next call is the trial', async () => {
    await trip();
    await waitForState(b, 'half-open');
    const before = transitions.length;
    await rejection(b.run(ignored));
    expect(b.state().value).toBe('half-open');
    expect(transitions.length).toBe(before);
    // Not re-opened for another resetTimeoutMs: the very next call is let through as the trial.
    await expect(b.run(ok)).resolves.toBe('ok');
    expect(b.state()).toMatchObject({ value: 'closed', reason: 'trial-succeeded' });
  });

  it('a half-open trial that fails opens the breaker again, and counts as a failure', async () => {
    await trip();
    await waitForState(b, 'half-open');
    outcomes.length = 0;
    await rejection(b.run(failure));
    expect(b.state()).toMatchObject({ value: 'open', reason: 'trial-failed' });
    expect(outcomes).toEqual(['failure']);
  });

  it('callers going away never count, neither as failure nor as success', async () => {
    for (let i = 0; i < 5; i++) await rejection(b.run(ignored));
    expect(b.state().value).toBe('closed');
    expect(outcomes).toEqual([]);
  });

  it('forceOpen sticks through resetTimeoutMs (no half-open) until an operator closes or resets it', async () => {
    b.forceOpen();
    expect(b.state()).toMatchObject({ value: 'open', forced: true, reason: 'forced', nextTrialAt: null });
    expect(b.retryAt()).toBeNull();
    await sleep(RESET_MS * 2.5);
    expect(b.state().value).toBe('open');
    expect(await rejection(b.run(ok))).toBeInstanceOf(BreakerRejection);
    b.reset();
    expect(b.state()).toMatchObject({ value: 'closed', forced: false, reason: 'reset' });
    await expect(b.run(ok)).resolves.toBe('ok');
  });

  it('forceClose keeps it closed under failures', async () => {
    b.forceClose();
    expect(b.state()).toMatchObject({ value: 'closed', forced: true });
    for (let i = 0; i < 6; i++) await rejection(b.run(failure));
    expect(b.state()).toMatchObject({ value: 'closed', forced: true });
    await expect(b.run(ok)).resolves.toBe('ok');
  });

  it('forceClose on an open breaker closes it at once', async () => {
    await trip();
    b.forceClose();
    expect(b.state()).toMatchObject({ value: 'closed', forced: true, reason: 'forced' });
    await expect(b.run(ok)).resolves.toBe('ok');
  });

  it('reset clears statistics: one more failure after it does not open', async () => {
    await rejection(b.run(failure));
    b.reset();
    await rejection(b.run(failure));
    expect(b.state().value).toBe('closed');
  });

  it('markHealthDown opens at once and holds it open (no half-open); markHealthUp closes', async () => {
    const retryAt = Date.now() + 5000;
    b.markHealthDown(retryAt);
    expect(b.state()).toMatchObject({ value: 'open', reason: 'health', nextTrialAt: retryAt });
    const err = await rejection(b.run(ok));
    expect((err as BreakerRejection).retryAtMs).toBe(retryAt);
    await sleep(RESET_MS * 2.5);
    expect(b.state().value).toBe('open');
    b.markHealthUp();
    expect(b.state()).toMatchObject({ value: 'closed', reason: 'health' });
    await expect(b.run(ok)).resolves.toBe('ok');
  });

  it('health does not override an operator: down under forceClose stays closed; up under forceOpen stays open', async () => {
    b.forceClose();
    b.markHealthDown(Date.now() + 1000);
    expect(b.state().value).toBe('closed');
    await expect(b.run(ok)).resolves.toBe('ok');
    b.reset();
    b.forceOpen();
    b.markHealthUp();
    expect(b.state().value).toBe('open');
  });

  it('refuses with kind overloaded beyond maxConcurrent calls in flight, which is not a failure', async () => {
    const small = new Breaker('small', settings, 1, systemClock);
    const seen: string[] = [];
    small.on('outcome', (o) => seen.push(o));
    try {
      const running = deferred();
      const first = small.run(running.call);
      for (let i = 0; i < 3; i++) {
        const err = await rejection(small.run(ok));
        expect(err).toBeInstanceOf(BreakerRejection);
        expect((err as BreakerRejection).kind).toBe('overloaded');
      }
      running.resolve();
      await first;
      expect(small.state().value).toBe('closed');
      // Each refusal is one rejection, never also a success.
      expect(seen).toEqual(['rejection', 'rejection', 'rejection', 'success']);
      await expect(small.run(ok)).resolves.toBe('ok');
    } finally {
      small.close();
    }
  });
  it('overloaded refusals do not dilute the error percentage: two failures after them still open it', async () => {
    // Were the 5 refusals fires (and, filtered, successes) in opossum's window, 2 failures
    // would be 2 of 8 calls and leave it closed.
    const small = new Breaker('small', settings, 1, systemClock);
    try {
      const running = deferred();
      const first = small.run(running.call);
      for (let i = 0; i < 5; i++) expect(await rejection(small.run(ok))).toMatchObject({ kind: 'overloaded' });
      running.resolve();
      await first;
      await rejection(small.run(failure));
      await rejection(small.run(failure));
      expect(small.state()).toMatchObject({ value: 'open', reason: 'failures' }); // 2 failures of 3 calls
    } finally {
      small.close();
    }
  });

  it('frees its one concurrency slot whatever the outcome: success, caller gone, error, failure, trial', async () => {
    const small = new Breaker('small', settings, 1, systemClock);
    try {
      await small.run(ok);
      await rejection(small.run(ignored));
      await rejection(small.run(() => Promise.reject(new Error('unexpected'))));
      await rejection(small.run(failure));
      await rejection(small.run(failure));
      expect(small.state().value).toBe('open');
      await waitForState(small, 'half-open');
      await expect(small.run(ok)).resolves.toBe('ok');
      await expect(small.run(ok)).resolves.toBe('ok');
      expect(small.state().value).toBe('closed');
    } finally {
      small.close();
    }
  });

  it('emits no transition when an operator action leaves the state as it was; only the forced flag changes', async () => {
    b.reset();
    b.forceClose('test');
    expect(b.state()).toMatchObject({ value: 'closed', forced: true, reason: 'initial' });
    b.reset();
    expect(b.state()).toMatchObject({ value: 'closed', forced: false });
    await rejection(b.run(failure));
    await rejection(b.run(failure));
    expect(b.state().value).toBe('open');
    const openedAt = b.state().since;
    b.forceOpen('test');
    expect(b.state()).toMatchObject({ value: 'open', forced: true, reason: 'failures', since: openedAt, nextTrialAt: null });
    expect(transitions.map((t) => [t.from, t.to, t.reason])).toEqual([['closed', 'open', 'failures']]);
    expect(transitions.every((t) => t.from !== t.to)).toBe(true);
  });
  it('nextTrialAt is never in the past: a health probe already due is under way now', () => {
    let now = 1_000_000;
    const clocked = new Breaker('probe', settings, 100, { now: () => now });
    try {
      clocked.markHealthDown(now + 300);
      expect(clocked.state()).toMatchObject({ value: 'open', nextTrialAt: now + 300 });
      now += 800; // the probe was due 500 ms ago and has not answered yet
      expect(clocked.state()).toMatchObject({ value: 'open', nextTrialAt: now });
      expect(clocked.refusal()?.retryAtMs).toBe(now);
    } finally {
      clocked.close();
    }
  });
});
