import { pairName, type HeadToHeadResult } from './head-to-head';
import type { LatencySummary } from './histogram';
import type { LoadResult } from './load';
import type { PacedResult } from './paced-load';
import { GATEWAY_NODE_FLAGS, type TargetId } from './targets';

export interface TargetResult {
  id: TargetId;
  label: string;
  /** The target's median window (by req/s) of its throughput rounds. */
  throughput: LoadResult;
  /** req/s of every round, in order (absent in results from before rounds existed). */
  roundsRps?: number[];
  /** CPU used by the target during that window, % of one core. */
  targetCpuPercent: number;
  /** CPU used by the load generator and the shared upstream (core 0), % of one core. */
  loadCpuPercent: number;
  /** CPU that processes outside the benchmark took on both cores during the run, % of one core; null unpinned. */
  foreignCpuPercent: number | null;
  peak: { connections: number; rps: number; errors: number; peakRssBytes: number };
  single: LatencySummary | null;
  cpusAllowed: string | null;
  counters: Record<string, number>;
}

export interface MemoryResult {
  requests: number;
  connections: number;
  sampleAt: number;
  endAt: number;
  rssAtSample: number;
  rssAtEnd: number;
  heapAfterGcAtSample: number;
  heapAfterGcAtEnd: number;
  /** V8 heap reserved (heapTotal) and external memory at both points. */
  heapTotalAtSample: number;
  heapTotalAtEnd: number;
  externalAtSample: number;
  externalAtEnd: number;
  peakRss: number;
  rps: number;
  errors: number;
  /** RSS every second: [requests answered so far, bytes]. */
  rssSeries: [number, number][];
}

/** One target's fixed-rate run, with the CPU it and other processes used meanwhile. */
export interface LatencyRunEntry extends PacedResult {
  targetCpuPercent: number;
  foreignCpuPercent: number | null;
}

export interface Check {
  name: string;
  target: string;
  value: string;
  pass: boolean | null;
  note?: string;
}

export interface BenchResults {
  schema: 1;
  date: string;
  elapsedSeconds: number;
  commit: string | null;
  /** full: all targets with default flags (written to bench/); others go to a temp dir unless --out. */
  mode: 'full' | 'quick' | 'partial' | 'custom';
  machine: { cpu: string; cores: number; memTotalBytes: number; node: string; platform: string; kernel: string; busyBeforePercent: number | null };
  pinning: string;
  loader: string;
  upstream: string;
  settings: Record<string, unknown>;
  targets: Partial<Record<TargetId, TargetResult>>;
  ratios: { dOverB: number | null; dOverC: number | null; eOverD: number | null; fOverD?: number | null };
  /** The same ratios head to head, with the control pair first (absent in results from before it existed). */
  headToHead?: HeadToHeadResult[];
  /** The round with the median added p99 (absent per-round figures in results from before rounds existed). */
  latencyRun: { rate: number; basis: string; b: LatencyRunEntry; d: LatencyRunEntry; addedP99Ms: number; addedP99ByRound?: number[] } | null;
  memory: MemoryResult | null;
  /** Queued delivery's run (bench/queue.ts); absent in results from before it existed. */
  queue?: { results: { store: string; messages: number; connections: number; acceptedPerSecond: number; deliveredPerSecond: number; errors: number }[]; notes: string[] };
  checks: Check[];
  warnings: string[];
}

const MB = 1024 * 1024;
const ms = (v: number): string => (v < 10 ? v.toFixed(2) : v.toFixed(1));
const mb = (b: number): string => (b / MB).toFixed(0);
const ratio = (r: number | null): string => (r === null ? '–' : `${r.toFixed(2)}×`);

/** The pass/fail verdicts of issue 5; a check whose inputs were not measured is null (skipped). */
export function evaluate(r: Omit<BenchResults, 'checks' | 'warnings'>): { checks: Check[]; warnings: string[] } {
  const { targets: t, ratios } = r;
  const checks: Check[] = [];
  const add = (name: string, target: string, value: number | null, pass: (v: number) => boolean, fmt: (v: number) => string, note?: string): void => {
    checks.push({ name, target, value: value === null ? 'not measured' : fmt(value), pass: value === null ? null : pass(value), ...(note ? { note } : {}) });
  };
  add('gateway / raw proxy (d/b)', '≥ 0.75×', ratios.dOverB, (v) => v >= 0.75, ratio);
  add('gateway / raw proxy (d/b), minimum', '≥ 0.60×', ratios.dOverB, (v) => v >= 0.6, ratio);
  add('gateway / fastify-http-proxy (d/c)', '≥ 1.00×', ratios.dOverC, (v) => v >= 1, ratio);
  add('open breaker / gateway proxied (e/d)', '≥ 1.50×', ratios.eOverD, (v) => v >= 1.5, ratio);
  add('two targets / one target (f/d)', '≥ 0.90×', ratios.fOverD ?? null, (v) => v >= 0.9, ratio);
  add('open breaker, single request (e, c=1, p50)', '< 1 ms', t.e?.single?.p50 ?? null, (v) => v < 1, (v) => `${ms(v)} ms (p99 ${ms(t.e?.single?.p99 ?? 0)} ms)`);
  add('added p99 at fixed rate (d − b)', '< 2 ms', r.latencyRun?.addedP99Ms ?? null, (v) => v < 2, (v) => `${ms(v)} ms at ${Math.round(r.latencyRun?.rate ?? 0)} req/s`);
  add(`gateway peak RSS at c=${t.d?.peak.connections ?? 200}`, '< 150 MB', t.d ? t.d.peak.peakRssBytes : null, (v) => v < 150 * MB, (v) => `${mb(v)} MB`);
  const m = r.memory;
  // Noise: RSS moves with V8's heap sizing and the allocator by a few MB; a leak of even
  // 16 bytes per request adds ~14 MB over 900 000 requests. Heap after a full GC is the
  // sharper signal and is held to 2 MB (~2 bytes per request).
  // RSS swings by ±10 MB between samples as V8 grows and shrinks its young generation, so
  // the median of the samples over the first and last tenth is compared, not two readings.
  const rssGrowth = m ? rssWindows(m).last - rssWindows(m).first : null;
  const heapGrowth = m ? m.heapAfterGcAtEnd - m.heapAfterGcAtSample : null;
  add(`RSS growth, median of first vs last tenth${m ? ` (${m.sampleAt / 1000}k–${(2 * m.sampleAt) / 1000}k vs last ${m.sampleAt / 1000}k)` : ''}`, `< max(10 MB, 10 %)`, rssGrowth,
    (v) => v < Math.max(10 * MB, 0.1 * (m?.rssAtSample ?? 0)), (v) => `${v >= 0 ? '+' : ''}${(v / MB).toFixed(1)} MB`);
  add('heap after full GC, same interval', '< 2 MB', heapGrowth, (v) => v < 2 * MB, (v) => `${v >= 0 ? '+' : ''}${(v / MB).toFixed(2)} MB`);

  const warnings: string[] = [];
  const busy = r.machine.busyBeforePercent;
  if (busy !== null && busy > 5) warnings.push(`the machine was ${busy.toFixed(0)} % busy before the run started`);
  for (const x of Object.values(t)) {
    if (x.throughput.errors > 0) warnings.push(`(${x.id}) ${x.throughput.errors} errors or unexpected statuses during the throughput run`);
    if (x.foreignCpuPercent !== null && x.foreignCpuPercent > 5) {
      warnings.push(`(${x.id}) other processes used ${x.foreignCpuPercent.toFixed(0)} % of a core during the run: the machine was not quiet, treat its figures as low`);
    }
    if (x.targetCpuPercent < 90 && x.loadCpuPercent > 90) {
      warnings.push(`(${x.id}) target used ${x.targetCpuPercent.toFixed(0)} % of its core while core 0 was at ${x.loadCpuPercent.toFixed(0)} %: its figure is limited by the load generator, not by itself`);
    }
  }
  for (const k of ['b', 'd'] as const) {
    const f = r.latencyRun?.[k].foreignCpuPercent ?? null;
    if (f !== null && f > 5) warnings.push(`latency run (${k}): other processes used ${f.toFixed(0)} % of a core meanwhile; its tail latency is not the target's alone`);
  }
  if (r.latencyRun && r.latencyRun.d.queued + r.latencyRun.b.queued > 0) warnings.push('latency run: some requests waited for a free connection (the target fell behind the rate); their wait is counted');
  return { checks, warnings };
}

/** CPU time the target spent per answered request (µs): robust to a busy machine and to a load-generator limit. */
export function cpuPerRequest(x: TargetResult): number {
  return x.throughput.requests === 0 ? 0 : ((x.targetCpuPercent / 100) * x.throughput.durationSec * 1e6) / x.throughput.requests;
}

/** The same ratios as req/s, computed from CPU cost per request (b/d means: cost of b over cost of d). */
function costRatios(r: BenchResults): string {
  const cost = (id: 'b' | 'c' | 'd' | 'e'): number | null => { const x = r.targets[id]; return x ? cpuPerRequest(x) : null; };
  const over = (x: number | null, y: number | null): number | null => (x === null || y === null || y === 0 ? null : x / y);
  return `d/b ${ratio(over(cost('b'), cost('d')))}   d/c ${ratio(over(cost('c'), cost('d')))}   e/d ${ratio(over(cost('d'), cost('e')))}`;
}

/** Median RSS over the first measured tenth (sampleAt…2×sampleAt) and the last tenth of the memory run. */
export function rssWindows(m: MemoryResult): { first: number; last: number } {
  const median = (xs: number[], fallback: number): number => {
    if (xs.length === 0) return fallback;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  };
  const first = median(m.rssSeries.filter(([n]) => n >= m.sampleAt && n <= 2 * m.sampleAt).map(([, b]) => b), m.rssAtSample);
  const last = median(m.rssSeries.filter(([n]) => n >= m.requests - m.sampleAt).map(([, b]) => b), m.rssAtEnd);
  return { first, last };
}

/** Throughput windows per target (1 in results from before rounds existed). */
function roundsOf(r: BenchResults): number {
  return typeof r.settings.rounds === 'number' ? r.settings.rounds : 1;
}

/** req/s of each target in each round, when there was more than one. */
function roundsLine(r: BenchResults): string {
  const rows = Object.values(r.targets).filter((x) => (x.roundsRps?.length ?? 0) > 1);
  if (rows.length === 0) return '';
  return `req/s by round: ${rows.map((x) => `(${x.id}) ${(x.roundsRps ?? []).map((v) => Math.round(v).toLocaleString('en-US')).join(' / ')}`).join(';  ')}`;
}

/** "d/b 0.64× (0.60–0.67)" for each pair measured head to head. */
function headToHeadLine(r: BenchResults): string {
  return (r.headToHead ?? []).map((p) => {
    const rs = p.windows.flatMap((w) => (w.ratio === null ? [] : [w.ratio]));
    const range = rs.length > 1 ? ` (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})` : '';
    return `${pairName(p)} ${ratio(p.median)}${range}`;
  }).join('   ');
}

function headToHeadRows(r: BenchResults): string[][] {
  const share = (p: HeadToHeadResult, k: 'x' | 'y'): string => p.windows.map((w) => w[k].cpuPercent.toFixed(0)).join('/');
  return [
    ['pair', 'median', 'by window', 'CPU share of x, % by window', 'of y, % by window'],
    ...(r.headToHead ?? []).map((p) => [pairName(p), ratio(p.median), p.windows.map((w) => (w.ratio === null ? '–' : w.ratio.toFixed(2))).join(' / '), share(p, 'x'), share(p, 'y')]),
  ];
}

const verdict = (c: Check): string => (c.pass === null ? 'SKIP' : c.pass ? 'PASS' : 'FAIL');

function throughputRows(r: BenchResults): string[][] {
  const head = ['', 'target', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'c=1 p50 ms', 'target CPU', 'CPU µs/req', 'other CPU', `peak RSS (c=${r.settings.peakConnections as number})`, 'errors'];
  const rows = Object.values(r.targets).map((x) => [
    `(${x.id})`,
    x.label,
    Math.round(x.throughput.rps).toLocaleString('en-US'),
    ms(x.throughput.latency.p50),
    ms(x.throughput.latency.p99),
    ms(x.throughput.latency.p999),
    x.single ? ms(x.single.p50) : '–',
    `${x.targetCpuPercent.toFixed(0)} %`,
    cpuPerRequest(x).toFixed(0),
    x.foreignCpuPercent === null ? '–' : `${x.foreignCpuPercent.toFixed(0)} %`,
    `${mb(x.peak.peakRssBytes)} MB`,
    String(x.throughput.errors),
  ]);
  return [head, ...rows];
}

function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  if (!head) return '';
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i >= 2 ? '---:' : '---'))), ...body.map(line)].join('\n');
}

function textTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function checkRows(r: BenchResults): string[][] {
  return [['check', 'target', 'measured', 'verdict'], ...r.checks.map((c) => [c.name, c.target, c.value, verdict(c)])];
}

export function consoleReport(r: BenchResults): string {
  const out = [`\nThroughput (${r.loader}, c=${r.settings.connections as number}, ${roundsOf(r)} × ${r.settings.duration as number} s each, in turn; ${r.pinning})`, textTable(throughputRows(r))];
  const perRound = roundsLine(r);
  if (perRound) out.push(perRound);
  out.push(`\nRatios: d/b ${ratio(r.ratios.dOverB)}   d/c ${ratio(r.ratios.dOverC)}   e/d ${ratio(r.ratios.eOverD)}   (from CPU µs per request: ${costRatios(r)})`);
  if ((r.headToHead ?? []).length > 0) out.push(`Head to head (two targets on the target core at once; CPU cost per request, median of ${roundsOf(r)}): ${headToHeadLine(r)}`);
  if (r.latencyRun) {
    const { b, d } = r.latencyRun;
    out.push(`Fixed rate ${Math.round(r.latencyRun.rate)} req/s (${r.latencyRun.basis}): p50/p99/p99.9 ms  b ${ms(b.latency.p50)}/${ms(b.latency.p99)}/${ms(b.latency.p999)}   d ${ms(d.latency.p50)}/${ms(d.latency.p99)}/${ms(d.latency.p999)}   added p99 ${ms(r.latencyRun.addedP99Ms)} ms${(r.latencyRun.addedP99ByRound?.length ?? 0) > 1 ? ` (median round; by round ${(r.latencyRun.addedP99ByRound ?? []).map(ms).join(' / ')})` : ''}`);
  }
  if (r.memory) {
    const m = r.memory;
    out.push(`Memory (d, ${m.requests.toLocaleString('en-US')} requests at c=${m.connections}): RSS ${mb(m.rssAtSample)} MB after ${m.sampleAt.toLocaleString('en-US')}, ${mb(m.rssAtEnd)} MB after ${m.endAt.toLocaleString('en-US')}; heap after GC ${(m.heapAfterGcAtSample / MB).toFixed(1)} → ${(m.heapAfterGcAtEnd / MB).toFixed(1)} MB; peak ${mb(m.peakRss)} MB`);
  }
  out.push('', textTable(checkRows(r)));
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}

export function markdownReport(r: BenchResults): string {
  const m = r.memory;
  const lr = r.latencyRun;
  return `# Breakwater benchmark results

Generated by \`npm run bench\` (bench/run.ts) on ${r.date} at commit ${r.commit ?? 'unknown'}, in
${Math.round(r.elapsedSeconds / 60)} min; raw figures in [results.json](results.json). Mode: ${r.mode}.
Do not edit by hand: run the benchmark again.

| machine | |
| --- | --- |
| CPU | ${r.machine.cpu} × ${r.machine.cores} |
| memory | ${(r.machine.memTotalBytes / 1024 ** 3).toFixed(1)} GB |
| node | ${r.machine.node} |
| OS | ${r.machine.platform} ${r.machine.kernel} |
| busy before the run | ${r.machine.busyBeforePercent === null ? 'unknown' : `${r.machine.busyBeforePercent.toFixed(0)} % (other processes)`} |
| core pinning | ${r.pinning} |
| gateway node flags | ${GATEWAY_NODE_FLAGS.join(' ')} (as \`npm start\` and the Docker image run it) |
| load generator | ${r.loader}, ${r.settings.connections as number} connections, ${r.settings.warmup as number} s warm-up, then ${roundsOf(r)} window${roundsOf(r) === 1 ? '' : 's'} of ${r.settings.duration as number} s per target, taken in turn |
| upstream | ${r.upstream === 'net' ? 'minimal HTTP/1.1 responder on node:net (nginx-like cost)' : 'node:http'}, 218-byte JSON, same process for (b)–(e) |

## Throughput

Each target runs in its own process; all are started and warmed up, then they take their
throughput windows in turn (b, c, d, e, b, c, …) for ${roundsOf(r)} round${roundsOf(r) === 1 ? '' : 's'}, so that a slow spell of the machine
falls on every target rather than on whichever ran at the time. Each row is the target's
median window; the ratios are the median over rounds of the same ratio within a round.
(a) is a second upstream process on the target core. *target CPU* is the target's CPU time over the run (100 % = its core is saturated,
so the figure is the target's own limit); *other CPU* is what processes outside the benchmark
took from the two cores meanwhile (anything above a few % means the machine was not quiet).
*CPU µs/req* is the target's CPU time per answered request; it holds up better than req/s
when the machine is busy or the load generator is the limit.
*c=1 p50* is the median of sequential single requests.
Peak RSS is the process's high-water mark (VmHWM) after a ${r.settings.peakDuration as number} s run at
${r.settings.peakConnections as number} connections.

${markdownTable(throughputRows(r))}

Ratios: **d/b ${ratio(r.ratios.dOverB)}**, **d/c ${ratio(r.ratios.dOverC)}**, **e/d ${ratio(r.ratios.eOverD)}**.
${roundsLine(r)}

The same ratios from CPU cost per request (what each target would do with a whole core to
itself, barring batching effects): ${costRatios(r)}.

## Head to head

${(r.headToHead ?? []).length > 0 ? `The same ratios measured another way: the two targets of a pair run on the target core **at the
same time**, each under its own ${r.settings.connections as number}-connection load, for ${roundsOf(r)} window${roundsOf(r) === 1 ? '' : 's'} of ${r.settings.duration as number} s (the pairs take their
windows in turn). The ratio is the CPU cost per request of y over that of x: how many
requests x answers for each of y's with the same CPU. Whatever the machine does meanwhile falls
on both targets at once, so the ratio is paired in time; the windows above, taken one after
the other, are not. The control pair is (b) against a second raw proxy process: its distance
from 1.00× is the method's own error. What this does not include is what a target pays for
having its core, and the processes it talks to, to itself: the windows above do.

${markdownTable(headToHeadRows(r))}
` : 'Not run (needs (b) and at least one other target).'}

## Latency at a fixed rate

${lr ? `Open-loop load at ${Math.round(lr.rate)} req/s (${lr.basis}) for ${r.settings.latencyDuration as number} s${lr.addedP99ByRound && lr.addedP99ByRound.length > 1 ? `, (b) and (d) in turn for ${lr.addedP99ByRound.length} rounds (the table shows the round with the median added p99)` : ''}, each target first warmed up under full load and then at the rate itself, over ${r.settings.connections as number} keep-alive connections, requests released on a 1 ms timer; a request that finds every connection busy is timed from when it was due.

| target | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | queued | target CPU | other CPU |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${(['b', 'd'] as const).map((k) => { const x = lr[k]; return `| (${k}) ${r.targets[k]?.label ?? ''} | ${Math.round(x.achievedRps)} | ${ms(x.latency.p50)} | ${ms(x.latency.p90)} | ${ms(x.latency.p99)} | ${ms(x.latency.p999)} | ${ms(x.latency.max)} | ${x.queued} | ${x.targetCpuPercent.toFixed(0)} % | ${x.foreignCpuPercent === null ? '–' : `${x.foreignCpuPercent.toFixed(0)} %`} |`; }).join('\n')}

Added p99 of the gateway over the raw proxy: **${ms(lr.addedP99Ms)} ms**${lr.addedP99ByRound && lr.addedP99ByRound.length > 1 ? ` (by round: ${lr.addedP99ByRound.map(ms).join(' / ')} ms)` : ''}.

How to read it: both targets get the same rate, but not the same utilization (the *target CPU*
column): tail latency climbs steeply once a core is more than about half busy, so the added p99
mostly shows how much more CPU per request the gateway spends. Requests arriving one by one
also cost more CPU each than under saturation (no batching of socket reads and writes), which
is why half of the closed-loop maximum is more than half of a core.` : 'Not run (needs targets b and d).'}

## Memory

${m ? `${m.requests.toLocaleString('en-US')} requests at c=${m.connections} against a fresh (d) at ${Math.round(m.rps)} req/s. RSS and heap (after a forced full GC, \`--expose-gc\`) are read while under load, after ${m.sampleAt.toLocaleString('en-US')} and after ${m.endAt.toLocaleString('en-US')} requests.

| | after ${m.sampleAt.toLocaleString('en-US')} | after ${m.endAt.toLocaleString('en-US')} | change |
| --- | ---: | ---: | ---: |
| RSS (one reading) | ${mb(m.rssAtSample)} MB | ${mb(m.rssAtEnd)} MB | ${((m.rssAtEnd - m.rssAtSample) / MB).toFixed(1)} MB |
| RSS, median of the samples of the first / last tenth | ${mb(rssWindows(m).first)} MB | ${mb(rssWindows(m).last)} MB | ${((rssWindows(m).last - rssWindows(m).first) / MB).toFixed(1)} MB |
| heap used after full GC | ${(m.heapAfterGcAtSample / MB).toFixed(2)} MB | ${(m.heapAfterGcAtEnd / MB).toFixed(2)} MB | ${((m.heapAfterGcAtEnd - m.heapAfterGcAtSample) / MB).toFixed(2)} MB |
| V8 heap reserved (heapTotal) | ${mb(m.heapTotalAtSample)} MB | ${mb(m.heapTotalAtEnd)} MB | ${((m.heapTotalAtEnd - m.heapTotalAtSample) / MB).toFixed(1)} MB |
| external (Buffers) | ${(m.externalAtSample / MB).toFixed(1)} MB | ${(m.externalAtEnd / MB).toFixed(1)} MB | ${((m.externalAtEnd - m.externalAtSample) / MB).toFixed(1)} MB |

How to read it: RSS includes V8's young generation and free pages the allocator keeps, so it
swings by ±10 MB from one second to the next with no leak at all (RSS is sampled every second;
the series is in results.json). The check compares the median RSS over the first tenth of the
run with the median over the last tenth and allows max(10 MB, 10 %). A leak shows as
growth proportional to requests: 16 bytes kept per request would add ~14 MB of heap over
900 000 requests. The heap after a full GC has none of that noise, so it is held to 2 MB.
Peak RSS over the run: ${mb(m.peakRss)} MB.` : 'Not run.'}

## Targets

| check | target | measured | verdict |
| --- | --- | --- | --- |
${r.checks.map((c) => `| ${c.name} | ${c.target} | ${c.value} | ${verdict(c)} |`).join('\n')}
${r.warnings.length > 0 ? `\nWarnings:\n\n${r.warnings.map((w) => `- ${w}`).join('\n')}\n` : ''}
## Method

- Targets: (a) the upstream itself; (b) node:http + http.request with a keep-alive agent + pipe;
  (c) fastify 5 + @fastify/http-proxy 11 (undici), fastify's defaults (no request logging);
  (d) \`new Gateway(...)\` (bench/gateway-target.ts) with production defaults: a breaker around
  every call, one pino-http JSON line per request at \`info\` serialized to /dev/null, the
  gateway's own Prometheus metrics and admin listener; (e) the same gateway, on a route whose
  breaker is forced open (every answer is a 503 problem+json).
- Every target is its own process, started fresh for each phase; the load generator runs in
  the orchestrator. With pinning, load generator and upstream share core 0 and the target has
  core 1 to itself, so the figures compare the targets' own cost per request.
- Latencies are recorded per response with microsecond resolution (autocannon's own
  histogram keeps whole milliseconds).
`;
}
