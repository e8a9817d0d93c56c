import type { Target } from './target';
import type { Upstream } from './upstream';

/**
 * Picks the target for an attempt among the upstream's available targets not tried yet
 * (`tried`: a bit per target index). `least-request`: power of two choices, the one of two
 * random candidates with fewer requests in flight (cheap, and unlike "the least of all" it
 * does not send every new request to the one target that just emptied). `round-robin`: the
 * next candidate in configuration order. Returns null when no candidate is left; no
 * allocation per call.
 */
export function pickTarget(u: Upstream, tried: number, random: () => number = Math.random): Target | null {
  const targets = u.targets;
  if (targets.length === 1) {
    const only = targets[0] as Target;
    return (tried & 1) === 0 && only.isAvailable() ? only : null;
  }
  let count = 0;
  for (let i = 0; i < targets.length; i++) if ((tried & (1 << i)) === 0 && (targets[i] as Target).isAvailable()) count++;
  if (count === 0) return null;
  if (u.config.balance === 'round-robin') {
    for (let step = 0; step < targets.length; step++) {
      const i = (u.cursor + step) % targets.length;
      const t = targets[i] as Target;
      if ((tried & (1 << i)) === 0 && t.isAvailable()) {
        u.cursor = (i + 1) % targets.length;
        return t;
      }
    }
    return null;
  }
  const a = nthCandidate(targets, tried, Math.floor(random() * count));
  if (count === 1) return a;
  // The second choice among the others: a different candidate, uniformly.
  let j = Math.floor(random() * (count - 1));
  const ai = a.index;
  const b = nthCandidate(targets, tried | (1 << ai), j >= count - 1 ? (j = 0) : j);
  return b.inFlight < a.inFlight ? b : a;
}

/** The n-th (0-based) available target not in `tried`; the caller knows there are more than n. */
function nthCandidate(targets: readonly Target[], tried: number, n: number): Target {
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i] as Target;
    if ((tried & (1 << i)) === 0 && t.isAvailable() && n-- === 0) return t;
  }
  return targets[0] as Target;
}

/** A target not tried yet, available or not: the one whose refusal explains why none could be used. */
export function anyUntried(u: Upstream, tried: number): Target | null {
  for (let i = 0; i < u.targets.length; i++) if ((tried & (1 << i)) === 0) return u.targets[i] as Target;
  return null;
}
