import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ProcessStats } from './child';
import { busyBefore, waitQuiet, withCpu, type CpuUse } from './cpu';
import { runAutocannon, runLoad, type LoadOptions, type LoadResult } from './load';
import { HELP, parseOptions, UsageError, type BenchOptions } from './options';
import { runPaced } from './paced-load';
import { costRatio, headToHeadPairs, pairName, summarize, type HeadToHeadResult, type HeadToHeadWindow, type ShareSample } from './head-to-head';
import { BenchProcess, killAll, setUpPinning, type Pinning } from './processes';
import { consoleReport, evaluate, markdownReport, type BenchResults, type LatencyRunEntry, type MemoryResult, type TargetResult } from './report';
import { medianBy, medianRatio, type RoundRps } from './rounds';
import { TARGET_IDS, TARGETS, type TargetId } from './targets';
import { queueReport, runQueueBench, type QueueBenchOutcome } from './queue';

const REPO_BENCH_DIR = path.resolve(__dirname, '..', '..', 'bench');
const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface Context {
  opts: BenchOptions;
  pinning: Pinning;
  upstream: BenchProcess;
}

/** Starts target `id` in its own process on the target core. */
function startTarget(ctx: Context, id: TargetId, nodeFlags: string[] = []): Promise<BenchProcess> {
  const spec = TARGETS[id];
  const args = id === 'a' ? ['--kind', ctx.opts.upstream] : ['--upstream', ctx.upstream.url];
  return BenchProcess.start(`(${id}) ${spec.label}`, spec.script, args, { core: ctx.pinning.targetCore, nodeFlags: [...(spec.nodeFlags ?? []), ...ctx.opts.targetNodeFlags, ...nodeFlags] });
}

/**
 * Runs one measurement with CPU accounting. With --wait-quiet it first waits for the machine
 * to be quiet, and measures once more (keeping the cleaner run) when other processes took
 * more than 10 % of a core meanwhile.
 */
async function measureQuietly<T>(ctx: Context, proc: BenchProcess, work: () => Promise<T>): Promise<CpuUse<T>> {
  const wait = ctx.opts.waitQuiet;
  let best: CpuUse<T> | undefined;
  for (let attempt = 1; attempt <= (wait > 0 ? 2 : 1); attempt++) {
    if (wait > 0) await waitQuiet(wait, log);
    const r = await withCpu(ctx.pinning, proc, ctx.upstream, work);
    if (!best || (r.foreignCpu ?? 0) < (best.foreignCpu ?? 0)) best = r;
    if ((r.foreignCpu ?? 0) <= 10) break;
    if (wait > 0 && attempt < 2) log(`    other processes took ${(r.foreignCpu ?? 0).toFixed(0)} % of a core meanwhile; measuring again`);
  }
  return best as CpuUse<T>;
}

function loadOf(ctx: Context, id: TargetId, proc: BenchProcess, over: Partial<LoadOptions> = {}): LoadOptions {
  return { url: proc.url + TARGETS[id].path, connections: ctx.opts.connections, duration: ctx.opts.duration, expectStatus: TARGETS[id].status, ...over };
}

const fmt = (x: LoadResult): string => `${Math.round(x.rps).toLocaleString('en-US')} req/s, p50 ${x.latency.p50.toFixed(2)} ms, p99 ${x.latency.p99.toFixed(2)} ms, ${x.errors} errors`;

/**
 * Starts every target of `ids` (each in its own process), warms each up under full load for
 * the JIT, runs `work` with all of them up, and stops them whatever happens.
 */
async function withTargets<I extends TargetId, T>(ctx: Context, ids: readonly I[], work: (procs: ReadonlyMap<I, BenchProcess>) => Promise<T>): Promise<T> {
  const { opts } = ctx;
  const procs = new Map<I, BenchProcess>();
  try {
    for (const id of ids) procs.set(id, await startTarget(ctx, id));
    for (const [id, proc] of procs) {
      log(`(${id}) ${TARGETS[id].label}: pid ${proc.pid}, ${opts.warmup} s warm-up`);
      if (opts.warmup > 0) await runLoad(opts.loader, loadOf(ctx, id, proc, { duration: opts.warmup }));
    }
    return await work(procs);
  } finally {
    for (const proc of procs.values()) await proc.stop();
  }
}

/** One throughput window of one target, with the CPU figures taken around it. */
interface Window {
  result: LoadResult;
  targetCpu: number;
  loadCpu: number;
  foreignCpu: number | null;
}

/**
 * Measures every target of `ids`: all are started (each in its own process) and warmed up,
 * then they take their throughput windows in turn, round after round, so that a slow spell
 * of a shared machine falls on all of them rather than on whichever ran at the time. Then
 * each gets its peak-RSS and single-request runs.
 */
async function measureTargets(ctx: Context, ids: readonly TargetId[]): Promise<{ results: Partial<Record<TargetId, TargetResult>>; rounds: RoundRps[]; headToHead: HeadToHeadResult[] }> {
  const { opts } = ctx;
  return withTargets(ctx, ids, async (procs) => {
    const windows = new Map<TargetId, Window[]>(ids.map((id) => [id, []]));
    const rounds: RoundRps[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      const rps: RoundRps = {};
      for (const [id, proc] of procs) {
        const { result, targetCpu, loadCpu, foreignCpu } = await measureQuietly(ctx, proc, () => runLoad(opts.loader, loadOf(ctx, id, proc)));
        log(`(${id}) round ${round}/${opts.rounds}: ${fmt(result)}; target CPU ${targetCpu.toFixed(0)} %, core 0 ${loadCpu.toFixed(0)} %${foreignCpu === null ? '' : `, other processes ${foreignCpu.toFixed(0)} %`}`);
        windows.get(id)?.push({ result, targetCpu, loadCpu, foreignCpu });
        rps[id] = result.rps;
      }
      rounds.push(rps);
    }
    const headToHead = await headToHeadRun(ctx, procs);
    const results: Partial<Record<TargetId, TargetResult>> = {};
    for (const [id, proc] of procs) {
      const median = medianBy(windows.get(id) ?? [], (w) => w.result.rps) as Window;
      const peak = await runLoad(opts.loader, loadOf(ctx, id, proc, { connections: opts.peakConnections, duration: opts.peakDuration }));
      const stats = await proc.stats();
      log(`(${id}) c=${opts.peakConnections}: ${fmt(peak)}; peak RSS ${(stats.peakRss / 2 ** 20).toFixed(0)} MB`);
      const single = opts.singleDuration > 0 ? (await runLoad(opts.loader, loadOf(ctx, id, proc, { connections: 1, duration: opts.singleDuration }))).latency : null;
      if (single) log(`(${id}) c=1: p50 ${single.p50.toFixed(3)} ms, p99 ${single.p99.toFixed(3)} ms`);
      results[id] = {
        id,
        label: TARGETS[id].label,
        throughput: median.result,
        targetCpuPercent: median.targetCpu,
        loadCpuPercent: median.loadCpu,
        foreignCpuPercent: median.foreignCpu,
        roundsRps: (windows.get(id) ?? []).map((w) => w.result.rps),
        peak: { connections: opts.peakConnections, rps: peak.rps, errors: peak.errors, peakRssBytes: stats.peakRss },
        single,
        cpusAllowed: stats.cpusAllowed,
        counters: stats.counters,
      };
    }
    return { results, rounds, headToHead };
  });
}

/**
 * The ratios once more, head to head (see head-to-head.ts): for each pair, both targets are
 * loaded at the same time on the target core, for as many windows as there are rounds, the
 * pairs taking their windows in turn. The control pair is (b) against a second raw proxy
 * process, started for this run.
 */
async function headToHeadRun(ctx: Context, procs: ReadonlyMap<TargetId, BenchProcess>): Promise<HeadToHeadResult[]> {
  const { opts } = ctx;
  const pairs = headToHeadPairs([...procs.keys()]);
  if (pairs.length === 0) return [];
  const twin = pairs.some((p) => p.control) ? await startTarget(ctx, 'b') : null;
  try {
    // As much load as (b) has had by now (warm-up and its throughput windows): a twin only
    // warmed up briefly read 1.13x in its first window and about 1.02x after.
    if (twin) await runLoad(opts.loader, loadOf(ctx, 'b', twin, { duration: opts.warmup + opts.rounds * opts.duration }));
    const windows = pairs.map((): HeadToHeadWindow[] => []);
    for (let round = 1; round <= opts.rounds; round++) {
      for (const [i, pair] of pairs.entries()) {
        const x = procs.get(pair.x) as BenchProcess;
        const y = pair.control ? (twin as BenchProcess) : (procs.get(pair.y) as BenchProcess);
        const [sx, sy] = await sharedWindow(ctx, [pair.x, x], [pair.y, y]);
        const w: HeadToHeadWindow = { x: sx, y: sy, ratio: costRatio(sx, sy) };
        windows[i]?.push(w);
        log(`head to head ${pairName(pair)} round ${round}/${opts.rounds}: ${w.ratio === null ? '–' : `${w.ratio.toFixed(3)}×`} (CPU share ${sx.cpuPercent.toFixed(0)} % / ${sy.cpuPercent.toFixed(0)} %, CPU µs/req ${(sx.cpuUs / Math.max(1, sx.requests)).toFixed(0)} / ${(sy.cpuUs / Math.max(1, sy.requests)).toFixed(0)})`);
      }
    }
    return pairs.map((pair, i) => summarize(pair, windows[i] ?? []));
  } finally {
    await twin?.stop();
  }
}

/** Loads two target processes at once for one window; each one's CPU time and answers meanwhile. */
async function sharedWindow(ctx: Context, [xId, x]: [TargetId, BenchProcess], [yId, y]: [TargetId, BenchProcess]): Promise<[ShareSample, ShareSample]> {
  const { opts } = ctx;
  const [x0, y0] = await Promise.all([x.stats(), y.stats()]);
  const t0 = performance.now();
  const [rx, ry] = await Promise.all([runLoad(opts.loader, loadOf(ctx, xId, x)), runLoad(opts.loader, loadOf(ctx, yId, y))]);
  const wallUs = (performance.now() - t0) * 1000;
  const [x1, y1] = await Promise.all([x.stats(), y.stats()]);
  const sample = (a: typeof x0, b: typeof x0, r: LoadResult): ShareSample => {
    const cpuUs = b.cpuUser + b.cpuSystem - a.cpuUser - a.cpuSystem;
    if (r.errors > 0) log(`    ${r.errors} errors or unexpected statuses in this window`);
    return { cpuUs, requests: r.requests, cpuPercent: (cpuUs / wallUs) * 100 };
  };
  return [sample(x0, x1, rx), sample(y0, y1, ry)];
}

/**
 * (b) and (d) at the same fixed rate, in turn for as many rounds as the throughput run, both
 * processes up throughout. The reported round is the one with the median added p99.
 */
async function latencyRun(ctx: Context, d: TargetResult): Promise<BenchResults['latencyRun']> {
  const { opts } = ctx;
  const rate = opts.latencyRate ?? Math.max(1, Math.round(d.throughput.rps / 2));
  const basis = opts.latencyRate ? '--latency-rate' : "half of (d)'s measured maximum";
  return withTargets(ctx, ['b', 'd'] as const, async (procs) => {
    const pacedOf = (id: 'b' | 'd', proc: BenchProcess, durationSec: number): Parameters<typeof runPaced>[0] =>
      ({ url: proc.url, path: TARGETS[id].path, rate, durationSec, connections: opts.connections, expectStatus: TARGETS[id].status });
    // After the full-load warm-up, also at the measured rate itself: the first seconds after a
    // saturating load are a transition (a 2 s window right after one showed p99 49 ms where the
    // next ones showed 2–5 ms), not the steady state this run is meant to show.
    if (opts.warmup > 0) for (const [id, proc] of procs) await runPaced(pacedOf(id, proc, opts.warmup));
    const rounds: Record<'b' | 'd', LatencyRunEntry>[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      const entry: Partial<Record<'b' | 'd', LatencyRunEntry>> = {};
      for (const [id, proc] of procs) {
        const { result: r, targetCpu, foreignCpu } = await measureQuietly(ctx, proc, () => runPaced(pacedOf(id, proc, opts.latencyDuration)));
        log(`latency (${id}) round ${round}/${opts.rounds}, ${rate} req/s for ${opts.latencyDuration} s: p50 ${r.latency.p50.toFixed(3)} ms, p99 ${r.latency.p99.toFixed(3)} ms, p99.9 ${r.latency.p999.toFixed(3)} ms, ${r.errors} errors, ${r.queued} queued; target CPU ${targetCpu.toFixed(0)} %`);
        entry[id] = { ...r, targetCpuPercent: targetCpu, foreignCpuPercent: foreignCpu };
      }
      rounds.push(entry as Record<'b' | 'd', LatencyRunEntry>);
    }
    const added = (x: Record<'b' | 'd', LatencyRunEntry>): number => x.d.latency.p99 - x.b.latency.p99;
    const median = medianBy(rounds, added) as Record<'b' | 'd', LatencyRunEntry>;
    return { rate, basis, b: median.b, d: median.d, addedP99Ms: added(median), addedP99ByRound: rounds.map(added) };
  });
}

async function memoryRun(ctx: Context): Promise<MemoryResult> {
  const { opts } = ctx;
  const n = opts.memoryRequests;
  const sampleAt = Math.round(n / 10);
  // Read the end figures while still under the same load as the first ones.
  const endAt = n - 2 * opts.connections;
  const proc = await startTarget(ctx, 'd', ['--expose-gc']);
  try {
    log(`memory run (d): ${n.toLocaleString('en-US')} requests at c=${opts.connections}`);
    if (opts.waitQuiet > 0) await waitQuiet(opts.waitQuiet, log);
    let count = 0;
    const series: [number, number][] = [];
    const timer = setInterval(() => void proc.stats().then((s) => series.push([count, s.rss]), () => undefined), 1000);
    const marks: Promise<ProcessStats>[] = [];
    const result = await runAutocannon({
      ...loadOf(ctx, 'd', proc),
      amount: n,
      onResponse: (c) => {
        count = c;
        if (c === sampleAt || c === endAt) marks.push(proc.stats(true));
      },
    });
    clearInterval(timer);
    const [first, last] = await Promise.all(marks);
    const end = await proc.stats();
    if (!first || !last) throw new Error('memory run ended before both samples were taken');
    log(`    ${fmt(result)}; RSS ${(first.rss / 2 ** 20).toFixed(1)} → ${(last.rss / 2 ** 20).toFixed(1)} MB, heap after GC ${(first.heapUsed / 2 ** 20).toFixed(2)} → ${(last.heapUsed / 2 ** 20).toFixed(2)} MB`);
    return {
      requests: n, connections: opts.connections, sampleAt, endAt,
      rssAtSample: first.rss, rssAtEnd: last.rss, heapAfterGcAtSample: first.heapUsed, heapAfterGcAtEnd: last.heapUsed,
      heapTotalAtSample: first.heapTotal, heapTotalAtEnd: last.heapTotal, externalAtSample: first.external, externalAtEnd: last.external,
      peakRss: end.peakRss, rps: result.rps, errors: result.errors, rssSeries: series,
    };
  } finally {
    await proc.stop();
  }
}

async function profileRun(ctx: Context, dir: string): Promise<string | null> {
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  const proc = await startTarget(ctx, 'd', ['--cpu-prof', '--cpu-prof-dir', dir]);
  try {
    log(`profile (d) under --cpu-prof: ${ctx.opts.duration} s at c=${ctx.opts.connections}`);
    if (ctx.opts.waitQuiet > 0) await waitQuiet(ctx.opts.waitQuiet, log);
    log(`    ${fmt(await runLoad(ctx.opts.loader, loadOf(ctx, 'd', proc)))}`);
  } finally {
    await proc.stop();
  }
  const made = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  made.sort((x, y) => statSync(path.join(dir, y)).mtimeMs - statSync(path.join(dir, x)).mtimeMs);
  return made[0] ? path.join(dir, made[0]) : null;
}

function machine(): Omit<BenchResults['machine'], 'busyBeforePercent'> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux: keep os.cpus()
  }
  return { cpu, cores: os.cpus().length, memTotalBytes: os.totalmem(), node: process.version, platform: os.platform(), kernel: os.release() };
}

/** The commit measured (read-only git), with "+dirty" when the working tree has changes; null outside git. */
function commitOf(): string | null {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_BENCH_DIR, encoding: 'utf8' });
  if (head.status !== 0) return null;
  // The benchmark's own output files do not make the measured code dirty.
  const status = ['status', '--porcelain', '--untracked-files=no', '--', ':/', ':(top,exclude)bench/results.json', ':(top,exclude)bench/RESULTS.md'];
  const dirty = spawnSync('git', status, { cwd: REPO_BENCH_DIR, encoding: 'utf8' }).stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? '+dirty' : ''}`;
}

function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

async function main(): Promise<number> {
  let parsed: BenchOptions | 'help';
  try {
    parsed = parseOptions(process.argv.slice(2));
    if (parsed !== 'help' && parsed.loader === 'wrk' && spawnSync('wrk', ['-v'], { stdio: 'ignore' }).error) throw new UsageError('--loader wrk: wrk is not installed');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${HELP}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const opts = parsed;
  const startedAt = Date.now();
  const mode: BenchResults['mode'] = opts.quick ? 'quick' : opts.only.length < TARGET_IDS.length ? 'partial' : opts.targetNodeFlags.length > 0 ? 'custom' : 'full';
  const outDir = opts.out ? path.resolve(opts.out) : mode === 'full' ? REPO_BENCH_DIR : path.join(os.tmpdir(), 'breakwater-bench');
  if (opts.render) {
    const file = path.join(opts.out ? path.resolve(opts.out) : REPO_BENCH_DIR, 'results.json');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
    const results: BenchResults = { ...saved, ...evaluate(saved) };
    writeAtomically(file, `${JSON.stringify(results, null, 2)}\n`);
    writeAtomically(path.join(path.dirname(file), 'RESULTS.md'), markdownReport(results));
    process.stdout.write(`${consoleReport(results)}\n\nRe-rendered ${file} and RESULTS.md\n`);
    return 0;
  }
  const info = machine();
  const pinning = setUpPinning(opts.pin);
  log(`Breakwater bench (${mode}): ${info.cpu} × ${info.cores}, node ${info.node}; ${pinning.note}; loader ${opts.loader}`);
  const busy = await busyBefore(1000);
  if (busy !== null) log(`machine ${busy.toFixed(0)} % busy before the run${busy > 5 ? ' — other processes are running; figures will be low and noisy' : ''}`);

  const upstream = await BenchProcess.start('upstream', 'upstream.js', ['--kind', opts.upstream], { core: pinning.loadCore });
  const ctx: Context = { opts, pinning, upstream };
  const targets: Partial<Record<TargetId, TargetResult>> = {};
  let latency: BenchResults['latencyRun'] = null;
  let memory: MemoryResult | null = null;
  let profile: string | null = null;
  let rounds: RoundRps[] = [];
  let headToHead: HeadToHeadResult[] = [];
  try {
    const measured = await measureTargets(ctx, opts.only);
    Object.assign(targets, measured.results);
    rounds = measured.rounds;
    headToHead = measured.headToHead;
    if (targets.b && targets.d && opts.latencyDuration > 0) latency = await latencyRun(ctx, targets.d);
    if (targets.d && opts.memoryRequests > 0) memory = await memoryRun(ctx);
    if (opts.profile) profile = await profileRun(ctx, path.join(outDir, 'profiles'));
  } finally {
    await upstream.stop();
  }
  // Queued delivery: accepted and delivered messages per second, for each store.
  const queue: QueueBenchOutcome | null = opts.queueMessages > 0 ? await runQueueBench(opts.queueMessages, 16, log) : null;

  const partial = {
    schema: 1 as const,
    date: new Date().toISOString(),
    elapsedSeconds: Math.round((Date.now() - startedAt) / 1000),
    commit: commitOf(),
    mode,
    machine: { ...info, busyBeforePercent: busy },
    pinning: pinning.note,
    loader: opts.loader,
    upstream: opts.upstream,
    settings: { ...opts, out: undefined },
    targets,
    ratios: { dOverB: medianRatio(rounds, 'd', 'b'), dOverC: medianRatio(rounds, 'd', 'c'), eOverD: medianRatio(rounds, 'e', 'd'), fOverD: medianRatio(rounds, 'f', 'd') },
    headToHead,
    latencyRun: latency,
    memory,
    ...(queue ? { queue } : {}),
  };
  const results: BenchResults = { ...partial, ...evaluate(partial) };
  mkdirSync(outDir, { recursive: true });
  writeAtomically(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const queueText = queue ? `\n\n${queueReport(queue)}\n` : '';
  writeAtomically(path.join(outDir, 'RESULTS.md'), markdownReport(results) + queueText);
  process.stdout.write(`${consoleReport(results)}${queueText}\n\nWrote ${path.join(outDir, 'results.json')} and RESULTS.md\n`);
  if (profile) process.stdout.write(`CPU profile of (d): ${profile}\n`);
  return opts.strict && results.checks.some((c) => c.pass === false) ? 1 : 0;
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
    killAll();
    process.exit(1);
  },
);
