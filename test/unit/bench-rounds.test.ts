import { parseOptions, UsageError, type BenchOptions } from '../../bench/options';
import { median, medianBy, medianRatio } from '../../bench/rounds';

describe('benchmark rounds', () => {
  it('median: the middle value, or the mean of the two middle ones; null for none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNull();
  });

  it('medianBy: a real item (the lower middle for an even count), whatever the input order', () => {
    const windows = [{ rps: 5000, n: 'a' }, { rps: 4000, n: 'b' }, { rps: 6000, n: 'c' }, { rps: 4500, n: 'd' }];
    expect(medianBy(windows, (w) => w.rps)?.n).toBe('d');
    expect(medianBy(windows.slice(0, 3), (w) => w.rps)?.n).toBe('a');
    expect(medianBy([], (w: { rps: number }) => w.rps)).toBeUndefined();
  });

  it('medianRatio: the median of the within-round ratios, not the ratio of medians', () => {
    // A slow second round hits both targets; the within-round ratios are 0.5, 0.5 and 0.6.
    const rounds = [{ b: 6000, d: 3000 }, { b: 3000, d: 1500 }, { b: 5000, d: 3000 }];
    expect(medianRatio(rounds, 'd', 'b')).toBeCloseTo(0.5, 10);
    // The ratio of the per-target medians would have been 3000 / 5000 = 0.6.
  });

  it('medianRatio: rounds missing either target, or with a zero divisor, do not count', () => {
    expect(medianRatio([{ b: 100, d: 60 }, { d: 10 }, { b: 0, d: 5 }], 'd', 'b')).toBeCloseTo(0.6, 10);
    expect(medianRatio([{ b: 100 }], 'd', 'b')).toBeNull();
    expect(medianRatio([], 'e', 'd')).toBeNull();
  });

  it('--rounds: 5 in a full run, 1 with --quick, a whole number of at least 1 when given', () => {
    expect((parseOptions([]) as BenchOptions).rounds).toBe(5);
    expect((parseOptions(['--quick']) as BenchOptions).rounds).toBe(1);
    expect((parseOptions(['--rounds', '3', '--duration', '2']) as BenchOptions)).toMatchObject({ rounds: 3, duration: 2 });
    expect(() => parseOptions(['--rounds', '0'])).toThrow(UsageError);
    expect(() => parseOptions(['--rounds', 'many'])).toThrow(/--rounds: expected a number >= 1/);
  });
});
