import { Counter, Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS } from '../../src/metrics/metrics';
import { RequestCounter, RequestHistogram } from '../../src/metrics/request-series';

const LABELS = ['route', 'upstream', 'method', 'status_class'] as const;
type Labels = Record<(typeof LABELS)[number], string>;

/** The same observations into prom-client's own classes and into ours, each in its own registry. */
function both(observations: [Labels, number][]): { theirs: Registry; ours: Registry } {
  const theirs = new Registry();
  const counter = new Counter({ name: 't_total', help: 'h "quoted" \\ back', labelNames: LABELS, registers: [theirs] });
  const histogram = new Histogram({ name: 't_seconds', help: 'help', labelNames: LABELS, buckets: [...DURATION_BUCKETS], registers: [theirs] });
  const ours = new Registry();
  const c = new RequestCounter('t_total', 'h "quoted" \\ back');
  const h = new RequestHistogram('t_seconds', 'help', DURATION_BUCKETS);
  c.registerIn(ours);
  h.registerIn(ours);
  for (const [labels, value] of observations) {
    counter.inc(labels);
    histogram.observe(labels, value);
    const key = JSON.stringify(labels);
    c.series(key, labels).value++;
    h.series(key, labels).observe(value);
  }
  return { theirs, ours };
}

describe('request series (requests_total, request_duration_seconds)', () => {
  const a: Labels = { route: '/api/loans', upstream: 'business', method: 'GET', status_class: '2xx' };
  const b: Labels = { route: '', upstream: '', method: 'OTHER', status_class: 'aborted' };
  const odd: Labels = { route: '/a"b\\c\nd', upstream: 'x', method: 'POST', status_class: '5xx' };

  it('are exposed exactly as prom-client formats its own Counter and Histogram', async () => {
    // Values on bucket bounds, between them, below the first and beyond the last.
    const values = [0, 0.0005, 0.001, 0.0011, 0.0025, 0.004, 0.3, 1, 29.9, 30, 31, 120];
    const { theirs, ours } = both([...values.map((v): [Labels, number] => [a, v]), [b, 0.002], [odd, 5], [a, 0.05]]);
    const expected = await theirs.metrics();
    expect(expected).toContain('t_seconds_bucket{le="0.001",route="/api/loans",upstream="business",method="GET",status_class="2xx"} 3');
    expect(await ours.metrics()).toBe(expected);
    // As objects too (prom-client adds `exemplar: null` to its histogram values; exemplars are off).
    const withoutExemplars = JSON.parse(JSON.stringify(await theirs.getMetricsAsJSON(), (k, v: unknown) => (k === 'exemplar' ? undefined : v))) as unknown;
    expect(await ours.getMetricsAsJSON()).toEqual(withoutExemplars);
  });

  it('start again from zero on resetMetrics(), and the series taken before still count', async () => {
    const ours = new Registry();
    const c = new RequestCounter('t_total', 'help');
    const h = new RequestHistogram('t_seconds', 'help', [0.1, 1]);
    c.registerIn(ours);
    h.registerIn(ours);
    const cs = c.series('k', a);
    const hs = h.series('k', a);
    cs.value += 2;
    hs.observe(0.5);
    ours.resetMetrics();
    expect(await ours.metrics()).toContain('t_total{route="/api/loans",upstream="business",method="GET",status_class="2xx"} 0');
    cs.value++;
    hs.observe(0.05);
    const text = await ours.metrics();
    expect(text).toContain('t_total{route="/api/loans",upstream="business",method="GET",status_class="2xx"} 1');
    expect(text).toContain('t_seconds_bucket{le="0.1",route="/api/loans",upstream="business",method="GET",status_class="2xx"} 1');
    expect(text).toContain('t_seconds_count{route="/api/loans",upstream="business",method="GET",status_class="2xx"} 1');
  });

  it('refuse a second metric of the same name in one registry, as prom-client does', () => {
    const r = new Registry();
    new RequestCounter('dup_total', 'help').registerIn(r);
    expect(() => new Counter({ name: 'dup_total', help: 'help', registers: [r] })).toThrow(/already been registered/);
  });
});
