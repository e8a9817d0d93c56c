import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { BenchProcess, Pinning } from './processes';

/** Busy and total jiffies of one core from /proc/stat; null off Linux. */
function coreTimes(core: number | null): { busy: number; total: number } | null {
  if (core === null) return null;
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${core} `));
    if (!line) return null;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** CPU time (µs) of this process's exited and waited-for children (cutime + cstime), e.g. wrk. */
function waitedChildrenUs(): number {
  try {
    // Fields after the parenthesised command name; cutime and cstime are the 16th and 17th fields.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) * (1e6 / 100);
  } catch {
    return 0;
  }
}

export interface CpuUse<T> {
  result: T;
  /** The target's own CPU time, % of one core. */
  targetCpu: number;
  /** Core 0 busy (load generator + upstream), % of one core. */
  loadCpu: number;
  /** CPU on the two cores used by processes outside the benchmark, % of one core; null unpinned. */
  foreignCpu: number | null;
}

/** Measures CPU use around `work`: the target's, core 0's, and what other processes took from both cores. */
export async function withCpu<T>(pinning: Pinning, target: BenchProcess, upstream: BenchProcess, work: () => Promise<T>): Promise<CpuUse<T>> {
  const { loadCore, targetCore } = pinning;
  const t0 = performance.now();
  const [s0, u0] = await Promise.all([target.stats(), upstream.stats()]);
  const l0 = coreTimes(loadCore);
  const c0 = coreTimes(targetCore);
  const p0 = process.cpuUsage();
  const w0 = waitedChildrenUs();
  const result = await work();
  const p1 = process.cpuUsage(p0);
  const w1 = waitedChildrenUs();
  const l1 = coreTimes(loadCore);
  const c1 = coreTimes(targetCore);
  const [s1, u1] = await Promise.all([target.stats(), upstream.stats()]);
  const wallUs = (performance.now() - t0) * 1000;
  const pct = (us: number): number => (us / wallUs) * 100;
  const targetCpu = pct(s1.cpuUser + s1.cpuSystem - s0.cpuUser - s0.cpuSystem);
  // Ours on core 0: this process (autocannon), a wrk child that has exited by now, the upstream.
  const ours0 = pct(p1.user + p1.system + (w1 - w0) + u1.cpuUser + u1.cpuSystem - u0.cpuUser - u0.cpuSystem);
  const busy = (a: { busy: number; total: number }, b: { busy: number; total: number }): number => ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * 100;
  if (!l0 || !l1 || !c0 || !c1) return { result, targetCpu, loadCpu: ours0, foreignCpu: null };
  const loadCpu = busy(l0, l1);
  // Kernel time for our sockets is charged to our processes, so what is left over is someone else's.
  const foreignCpu = Math.max(0, loadCpu - ours0) + Math.max(0, busy(c0, c1) - targetCpu);
  return { result, targetCpu, loadCpu, foreignCpu };
}

/** Share of all cores busy over `ms` before the run (other processes), %; null off Linux. */
export async function busyBefore(ms: number): Promise<number | null> {
  const all = (): { busy: number; total: number } | null => {
    try {
      const v = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
      const total = v.reduce((a, b) => a + b, 0);
      return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
    } catch {
      return null;
    }
  };
  const a = all();
  await new Promise((r) => setTimeout(r, ms));
  const b = all();
  return a && b ? ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * 100 : null;
}


/**
 * Waits (up to `maxSeconds`) until the machine is quiet: under 5 % busy over one second while
 * the benchmark's own processes are idle. On a shared machine this keeps others' builds and
 * test runs out of the figures; it gives up with a warning rather than wait forever.
 */
export async function waitQuiet(maxSeconds: number, log: (line: string) => void): Promise<void> {
  const deadline = performance.now() + maxSeconds * 1000;
  let said = false;
  for (;;) {
    const busy = await busyBefore(1000);
    if (busy === null || busy < 5) return;
    if (performance.now() > deadline) return log(`    still ${busy.toFixed(0)} % busy after ${maxSeconds} s; measuring anyway`);
    if (!said) log(`    machine ${busy.toFixed(0)} % busy with other processes; waiting for quiet (up to ${maxSeconds} s)`);
    said = true;
  }
}
