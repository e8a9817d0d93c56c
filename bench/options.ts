import { TARGET_IDS, type TargetId } from './targets';
import type { LoaderName } from './load';

export interface BenchOptions {
  /** Seconds of each closed-loop throughput window. */
  duration: number;
  /**
   * Throughput windows per target. All targets stay up and take their windows in turn
   * (b, c, d, e, b, c, …), so a slow spell of a shared machine hits every target alike;
   * ratios are the median over rounds.
   */
  rounds: number;
  connections: number;
  /** Seconds of load before each measurement, discarded. */
  warmup: number;
  only: TargetId[];
  /** Requests of the memory run against (d); 0 skips it. RSS is compared after a tenth and at the end. */
  memoryRequests: number;
  /** Connections and seconds of the peak-RSS run of each target. */
  peakConnections: number;
  peakDuration: number;
  /** Seconds of sequential single requests (c=1) per target. */
  singleDuration: number;
  /** Seconds of the fixed-rate latency run of (b) and (d). */
  latencyDuration: number;
  /** Requests/s of the latency run; default half of the gateway's measured maximum. */
  latencyRate: number | null;
  loader: LoaderName;
  upstream: 'net' | 'http';
  pin: boolean;
  quick: boolean;
  /** Seconds to wait for a quiet machine before each measurement (and re-measure if disturbed); 0: don't. */
  waitQuiet: number;
  /** Exit 1 when a target fails. */
  strict: boolean;
  /** Extra node flags for every target process (e.g. --max-semi-space-size=8), to try V8 settings. */
  targetNodeFlags: string[];
  /** Measure nothing: re-render OUT/results.json into RESULTS.md (after a change to the report). */
  render: boolean;
  /** Also profile (d) under load with --cpu-prof. */
  profile: boolean;
  /** Where results.json and RESULTS.md go; null: bench/ for a full run, a temp dir otherwise. */
  out: string | null;
  /** Messages of the queued-delivery run, per store (bench/queue.ts); 0 skips it. */
  queueMessages: number;
}

export class UsageError extends Error {}

export const HELP = `Usage: npm run bench -- [options]

Measures, under identical load in one run: (a) the upstream directly, (b) a raw node:http
proxy, (c) fastify + @fastify/http-proxy, (d) the gateway with production defaults and
(e) the gateway's open-breaker path; then a fixed-rate latency run of (b) and (d) and a
memory run of (d). Writes results.json and RESULTS.md.

  --duration S            seconds per throughput window (3; quick 3)
  --rounds N              throughput windows per target, taken in turn across the targets;
                          ratios are the median over rounds (5; quick 1)
  --connections N         concurrent connections (50)
  --warmup S              seconds of discarded load before each measurement (3; quick 1)
  --only a,b,...          targets to run (all)
  --memory-requests N     requests of the memory run, 0 to skip (1000000; quick 100000)
  --peak-connections N    connections of the peak-RSS run (200)
  --peak-duration S       seconds of the peak-RSS run (5; quick 2)
  --single-duration S     seconds of sequential single requests (2; quick 1)
  --latency-duration S    seconds of each round of the fixed-rate latency run (5; quick 3)
  --latency-rate R        requests/s of the latency run (half of (d)'s maximum)
  --loader NAME           autocannon (default) or wrk, when installed
  --upstream KIND         net (default: minimal, nginx-like) or http (node:http)
  --no-pin                do not pin processes to cores with taskset
  --quick                 smoke run: one round, short phases (about 75 s for --only b,d)
  --wait-quiet S          before each measurement wait up to S s for other processes to go
                          quiet, and measure once more when they took over 10 % of a core
                          meanwhile (30; quick 0; 0: off)
  --profile               also run (d) under node --cpu-prof; the .cpuprofile goes to OUT/profiles
  --target-node-flags F   node flags for every target process, e.g. "--max-semi-space-size=8"
  --queue-messages N      messages of the queued-delivery run per store, 0 to skip (2000; quick 500)
  --render                measure nothing; re-render OUT/results.json into RESULTS.md
  --strict                exit 1 when a target is missed
  --out DIR               where results go (bench/ for a full run of all targets without
                          --quick or --target-node-flags, otherwise a temp directory, so
                          partial and experimental runs never overwrite it)
`;

const FULL = { duration: 3, rounds: 5, warmup: 3, memoryRequests: 1_000_000, peakDuration: 5, singleDuration: 2, latencyDuration: 5, waitQuiet: 30 };
const QUICK = { duration: 3, rounds: 1, warmup: 1, memoryRequests: 100_000, peakDuration: 2, singleDuration: 1, latencyDuration: 3, waitQuiet: 0 };

export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const quick = argv.includes('--quick');
  const base = quick ? QUICK : FULL;
  const o: BenchOptions = {
    ...base,
    connections: 50,
    only: [...TARGET_IDS],
    peakConnections: 200,
    latencyRate: null,
    loader: 'autocannon',
    upstream: 'net',
    pin: true,
    quick,
    strict: false,
    profile: false,
    targetNodeFlags: [],
    render: false,
    out: null,
    queueMessages: quick ? 500 : 2000,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const num = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isFinite(n) || n < min) throw new UsageError(`${flag}: expected a number >= ${min}, got "${v}"`);
      return n;
    };
    switch (flag) {
      case '--quick': break;
      case '--duration': o.duration = num(1); break;
      case '--rounds': o.rounds = Math.round(num(1)); break;
      case '--connections': o.connections = Math.round(num(1)); break;
      case '--warmup': o.warmup = num(0); break;
      case '--memory-requests': o.memoryRequests = Math.round(num(0)); break;
      case '--peak-connections': o.peakConnections = Math.round(num(1)); break;
      case '--peak-duration': o.peakDuration = num(1); break;
      case '--single-duration': o.singleDuration = num(0); break;
      case '--latency-duration': o.latencyDuration = num(0); break;
      case '--latency-rate': o.latencyRate = num(1); break;
      case '--no-pin': o.pin = false; break;
      case '--wait-quiet': o.waitQuiet = num(0); break;
      case '--strict': o.strict = true; break;
      case '--profile': o.profile = true; break;
      case '--render': o.render = true; break;
      case '--out': o.out = value(); break;
      case '--queue-messages': o.queueMessages = Math.round(num(0)); break;
      case '--target-node-flags': o.targetNodeFlags = value().split(/\s+/).filter(Boolean); break;
      case '--only': {
        const ids = value().split(',').map((s) => s.trim()).filter(Boolean);
        const bad = ids.filter((id) => !(TARGET_IDS as readonly string[]).includes(id));
        if (bad.length > 0 || ids.length === 0) throw new UsageError(`--only: expected targets among ${TARGET_IDS.join(',')}, got "${ids.join(',')}"`);
        o.only = TARGET_IDS.filter((id) => ids.includes(id));
        break;
      }
      case '--loader': {
        const v = value();
        if (v !== 'autocannon' && v !== 'wrk') throw new UsageError(`--loader: expected autocannon or wrk, got "${v}"`);
        o.loader = v;
        break;
      }
      case '--upstream': {
        const v = value();
        if (v !== 'net' && v !== 'http') throw new UsageError(`--upstream: expected net or http, got "${v}"`);
        o.upstream = v;
        break;
      }
      default: throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (o.memoryRequests > 0 && o.memoryRequests < 10 * o.connections) throw new UsageError(`--memory-requests: expected 0 or at least ${10 * o.connections}`);
  return o;
}
