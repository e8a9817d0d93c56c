import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Histogram, type LatencySummary } from './histogram';

export type LoaderName = 'autocannon' | 'wrk';

/** One closed-loop measurement: `connections` clients, each sending its next request as soon as the last one is answered. */
export interface LoadResult {
  loader: LoaderName;
  connections: number;
  durationSec: number;
  requests: number;
  rps: number;
  latency: LatencySummary;
  /** Connection errors, timeouts and answers with another status than expected. */
  errors: number;
  statuses: Record<string, number>;
}

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  duration: number;
  /** Run until this many requests were answered (autocannon only). */
  amount?: number;
  expectStatus: number;
  /** Called on every answer with the count so far (autocannon only). */
  onResponse?: (count: number) => void;
}

/**
 * Runs autocannon in this process (pinned with it). Latencies are taken from autocannon's
 * per-response event into a µs histogram: autocannon's own histogram keeps whole
 * milliseconds and drops non-2xx answers, and (e) answers 503 by design.
 */
export function runAutocannon(opts: LoadOptions): Promise<LoadResult> {
  const hist = new Histogram();
  const statuses: Record<string, number> = {};
  let unexpected = 0;
  let count = 0;
  const started = performance.now();
  return new Promise<LoadResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        ...(opts.amount ? { amount: opts.amount } : { duration: opts.duration }),
        timeout: 10,
      },
      (err, result) => {
        if (err) return reject(err);
        const durationSec = (performance.now() - started) / 1000;
        resolve({
          loader: 'autocannon',
          connections: opts.connections,
          durationSec,
          requests: count,
          rps: count / durationSec,
          latency: hist.summary(),
          errors: result.errors + result.timeouts + unexpected,
          statuses,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      count++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== opts.expectStatus) unexpected++;
      hist.record(ms);
      opts.onResponse?.(count);
    });
  });
}

const WRK_SCRIPT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"mean":%f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`;

interface WrkJson {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Runs wrk (one thread) as a child; it inherits this process's core. wrk reports answers
 * with status >= 400 as errors without telling them apart, so for an expected 4xx/5xx (target
 * e) only socket errors and timeouts count as errors.
 */
export function runWrk(opts: LoadOptions): Promise<LoadResult> {
  const script = path.join(os.tmpdir(), `breakwater-bench-${process.pid}.lua`);
  writeFileSync(script, WRK_SCRIPT);
  const args = ['-t1', `-c${opts.connections}`, `-d${Math.max(1, Math.round(opts.duration))}s`, '--timeout', '10s', '-s', script, opts.url];
  return new Promise<LoadResult>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (exit ${code}): ${out}`));
      const w = JSON.parse(line.slice('WRK_JSON '.length)) as WrkJson;
      const socketErrors = w.connect + w.read + w.write + w.timeout;
      const durationSec = w.durationUs / 1e6;
      resolve({
        loader: 'wrk',
        connections: opts.connections,
        durationSec,
        requests: w.requests,
        rps: w.requests / durationSec,
        latency: { count: w.requests, mean: w.mean / 1000, p50: w.p50 / 1000, p90: w.p90 / 1000, p99: w.p99 / 1000, p999: w.p999 / 1000, max: w.max / 1000 },
        errors: socketErrors + (opts.expectStatus < 400 ? w.status : 0),
        statuses: opts.expectStatus < 400 ? { [opts.expectStatus]: w.requests - w.status, '>=400': w.status } : { [`${opts.expectStatus}?`]: w.requests },
      });
    });
  });
}

export function runLoad(loader: LoaderName, opts: LoadOptions): Promise<LoadResult> {
  return loader === 'wrk' && opts.amount === undefined && opts.onResponse === undefined ? runWrk(opts) : runAutocannon(opts);
}
