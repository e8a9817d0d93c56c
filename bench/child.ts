import { readFileSync } from 'node:fs';

/** What a benchmark process reports about itself when asked (all sizes in bytes, CPU in µs). */
export interface ProcessStats {
  pid: number;
  rss: number;
  /** Peak RSS since the process started (VmHWM on Linux, maxRSS elsewhere). */
  peakRss: number;
  heapUsed: number;
  heapTotal: number;
  /** Memory of Buffers and other C++ objects tied to JS objects. */
  external: number;
  /** Whether a full GC ran just before heapUsed was read (needs --expose-gc). */
  afterGc: boolean;
  cpuUser: number;
  cpuSystem: number;
  /** CPUs this process may run on, as the kernel says (e.g. "1"); null off Linux. */
  cpusAllowed: string | null;
  /** Target-specific counters (e.g. requests the gateway's metrics observed). */
  counters: Record<string, number>;
}

/** Messages from the orchestrator to a benchmark process. */
export type ParentMessage = { type: 'stats'; id: number; gc?: boolean } | { type: 'stop' };

/** Messages from a benchmark process to the orchestrator. */
export type ChildMessage = { type: 'ready'; url: string } | { type: 'stats'; id: number; stats: ProcessStats };

export interface Started {
  url: string;
  close(): Promise<void>;
  counters?: () => Record<string, number>;
}

/** `--name value` from this process's arguments. */
export function argOf(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

/**
 * Runs one benchmark process: starts it, then answers the orchestrator over IPC. Without an
 * IPC channel (run by hand, e.g. under `node --cpu-prof`) it prints its URL and stops on
 * SIGINT/SIGTERM. It always exits through process.exit so that --cpu-prof can write its file.
 */
export function runChild(name: string, start: () => Promise<Started>): void {
  start().then(
    (started) => {
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        const timer = setTimeout(() => process.exit(0), 2000);
        timer.unref();
        void started.close().finally(() => process.exit(0));
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      if (!process.send) {
        process.stdout.write(`${name} listening on ${started.url}\n`);
        return;
      }
      // The orchestrator went away (even by SIGKILL): never outlive it.
      process.on('disconnect', stop);
      process.on('message', (msg: ParentMessage) => {
        if (msg.type === 'stop') return stop();
        if (msg.type === 'stats') process.send?.({ type: 'stats', id: msg.id, stats: statsOf(msg.gc === true, started) } satisfies ChildMessage);
      });
      process.send({ type: 'ready', url: started.url } satisfies ChildMessage);
    },
    (err: unknown) => {
      process.stderr.write(`${name}: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

function statsOf(gc: boolean, started: Started): ProcessStats {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (gc && collect) collect();
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const status = procStatus();
  return {
    pid: process.pid,
    rss: mem.rss,
    peakRss: status.vmHwm ?? process.resourceUsage().maxRSS * 1024,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    external: mem.external,
    afterGc: gc && collect !== undefined,
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    cpusAllowed: status.cpusAllowed,
    counters: started.counters?.() ?? {},
  };
}

function procStatus(): { vmHwm: number | null; cpusAllowed: string | null } {
  try {
    const text = readFileSync('/proc/self/status', 'utf8');
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(text);
    const cpus = /^Cpus_allowed_list:\s+(\S+)/m.exec(text);
    return { vmHwm: hwm ? Number(hwm[1]) * 1024 : null, cpusAllowed: cpus?.[1] ?? null };
  } catch {
    return { vmHwm: null, cpusAllowed: null };
  }
}
