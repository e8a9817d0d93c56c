import { costRatio, headToHeadPairs, pairName, summarize, type ShareSample } from '../../bench/head-to-head';

const sample = (cpuUs: number, requests: number): ShareSample => ({ cpuUs, requests, cpuPercent: 50 });

describe('benchmark head to head', () => {
  it('costRatio: y\'s CPU per request over x\'s, so a costlier x reads below 1', () => {
    // The raw proxy (y) spends 180 µs per request, the gateway (x) 300 µs: d/b = 0.6.
    expect(costRatio(sample(3_000_000, 10_000), sample(1_800_000, 10_000))).toBeCloseTo(0.6, 10);
    // Unequal shares of the core do not matter, only the cost per request does.
    expect(costRatio(sample(1_500_000, 5_000), sample(2_700_000, 15_000))).toBeCloseTo(0.6, 10);
  });

  it('costRatio: null when either target answered nothing or x used no CPU', () => {
    expect(costRatio(sample(1000, 0), sample(1000, 10))).toBeNull();
    expect(costRatio(sample(1000, 10), sample(1000, 0))).toBeNull();
    expect(costRatio(sample(0, 10), sample(1000, 10))).toBeNull();
  });

  it('headToHeadPairs: the control first, then only the pairs whose targets are both present', () => {
    expect(headToHeadPairs(['a', 'b', 'c', 'd', 'e']).map(pairName)).toEqual(['b/b′ (control)', 'd/b', 'd/c', 'e/d']);
    expect(headToHeadPairs(['b', 'd']).map(pairName)).toEqual(['b/b′ (control)', 'd/b']);
    expect(headToHeadPairs(['d', 'e']).map(pairName)).toEqual(['e/d']);
    expect(headToHeadPairs(['c'])).toEqual([]);
  });

  it('summarize: the median over the windows that counted', () => {
    const w = (ratio: number | null) => ({ x: sample(1, 1), y: sample(1, 1), ratio });
    expect(summarize({ x: 'd', y: 'b' }, [w(0.62), w(null), w(0.66), w(0.64)]).median).toBeCloseTo(0.64, 10);
    expect(summarize({ x: 'd', y: 'b' }, [w(null)]).median).toBeNull();
  });
});
