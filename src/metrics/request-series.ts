import type { Metric, Registry } from 'prom-client';

/** Label values of one series, in the order of the metric's label names. */
export type LabelSet = Readonly<Record<string, string>>;

/** One counter series: a running total. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: LabelSet) {}

  clear(): void {
    this.value = 0;
  }
}

/** One histogram series: per-bucket counts (not cumulative), their sum and count. */
export class HistogramSeries {
  count = 0;
  sum = 0;
  readonly buckets: number[];

  constructor(
    readonly labels: LabelSet,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Array<number>(bounds.length).fill(0);
  }

  clear(): void {
    this.buckets.fill(0);
    this.count = 0;
    this.sum = 0;
  }

  /** Counts one observation, as prom-client does: in the first bucket whose bound is ≥ the value. */
  observe(value: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.buckets[i] = (this.buckets[i] as number) + 1;
        break;
      }
    }
    this.count++;
    this.sum += value;
  }
}

/** A value in the shape prom-client's registry formats (see its Counter and Histogram `get()`). */
interface ExportedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** What the registry reads from a metric: its `get()` result, `reset()` and identity. */
abstract class RequestMetric<S extends { readonly labels: LabelSet; clear(): void }> {
  readonly aggregator = 'sum';
  protected readonly all = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
  ) {}

  /** The series of one label combination; `key` must identify `labels` uniquely. */
  series(key: string, labels: LabelSet): S {
    let s = this.all.get(key);
    if (s === undefined) {
      s = this.create(labels);
      this.all.set(key, s);
    }
    return s;
  }

  /** Called by the registry (`resetMetrics()`): every series starts again from zero (callers may hold them). */
  reset(): void {
    for (const s of this.all.values()) s.clear();
  }

  /** Called by the registry at scrape time. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    for (const s of this.all.values()) this.export(s, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Hands this metric to a prom-client registry, which formats it like its own metrics. */
  registerIn(register: Registry): void {
    // The registry reads metrics through name, help, type, aggregator, get() and reset() only.
    register.registerMetric(this as unknown as Metric);
  }

  protected abstract create(labels: LabelSet): S;
  protected abstract export(series: S, into: ExportedValue[]): void;
}

/**
 * The two per-request series of the traffic listener (`requests_total` and
 * `request_duration_seconds`), counted in plain numbers on the request path and formatted
 * by prom-client's registry at scrape time, exactly as its own Counter and Histogram would
 * be (a unit test compares the text). prom-client's own classes validate and hash the label
 * object on every `inc()` and `observe()`: about 2 µs per request for the two (measured),
 * while here each label combination is looked up once per request by one string key.
 */
export class RequestCounter extends RequestMetric<CounterSeries> {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  protected create(labels: LabelSet): CounterSeries {
    return new CounterSeries(labels);
  }

  protected export(s: CounterSeries, into: ExportedValue[]): void {
    into.push({ labels: { ...s.labels }, value: s.value });
  }
}

/** See RequestCounter; a histogram with fixed bucket bounds (seconds). */
export class RequestHistogram extends RequestMetric<HistogramSeries> {
  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram');
  }

  protected create(labels: LabelSet): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  protected export(s: HistogramSeries, into: ExportedValue[]): void {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += s.buckets[i] as number;
      into.push({ labels: { le: this.bounds[i] as number, ...s.labels }, value: cumulative, metricName: bucket });
    }
    into.push(
      { labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket },
      { labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` },
      { labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` },
    );
  }
}
