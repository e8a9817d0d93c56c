import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { ChildMessage, ParentMessage, ProcessStats } from './child';

/** How processes are placed on cores; `null` cores mean "not pinned". */
export interface Pinning {
  enabled: boolean;
  /** Core of the load generator (this process) and the shared upstream. */
  loadCore: number | null;
  /** Core of the process under test. */
  targetCore: number | null;
  note: string;
}

/**
 * Pins the load generator (this process, all its threads) to core 0 and plans core 1 for the
 * target, when `taskset` exists and there are at least two cores; otherwise says why not.
 */
export function setUpPinning(wanted: boolean): Pinning {
  const cores = os.cpus().length;
  if (!wanted) return { enabled: false, loadCore: null, targetCore: null, note: 'not pinned (--no-pin)' };
  if (cores < 2) return { enabled: false, loadCore: null, targetCore: null, note: `not pinned (only ${cores} core)` };
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0) {
    return { enabled: false, loadCore: null, targetCore: null, note: 'not pinned (taskset not found)' };
  }
  const r = spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  if (r.status !== 0) return { enabled: false, loadCore: null, targetCore: null, note: 'not pinned (taskset failed)' };
  return {
    enabled: true,
    loadCore: 0,
    targetCore: 1,
    note: `taskset: load generator + upstream on core 0, target on core 1 (${cores} cores)`,
  };
}

const live = new Set<ChildProcess>();

/** Kills every child still running; safe to call from 'exit' handlers (synchronous). */
export function killAll(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

/** A benchmark process (target or upstream) and its IPC. */
export class BenchProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (s: ProcessStats) => void>();

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (msg: ChildMessage) => {
      if (msg.type !== 'stats') return;
      this.waiting.get(msg.id)?.(msg.stats);
      this.waiting.delete(msg.id);
    });
  }

  /**
   * Forks a compiled script from dist/bench, pinned to `core` by running node under
   * `taskset -c CORE` (fork's execPath), and waits for it to say where it listens.
   */
  static async start(name: string, script: string, args: string[], opts: { core: number | null; nodeFlags?: string[]; timeoutMs?: number }): Promise<BenchProcess> {
    const nodeFlags = opts.nodeFlags ?? [];
    const child = fork(path.join(__dirname, script), args, {
      ...(opts.core === null
        ? { execArgv: nodeFlags }
        : { execPath: 'taskset', execArgv: ['-c', String(opts.core), process.execPath, ...nodeFlags] }),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${name} did not start within ${opts.timeoutMs ?? 15000} ms`)), opts.timeoutMs ?? 15000);
      const onMessage = (msg: ChildMessage): void => {
        if (msg.type !== 'ready') return;
        cleanup();
        resolve(msg.url);
      };
      const onExit = (code: number | null): void => fail(new Error(`${name} exited (code ${code}) before it was ready`));
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        child.off('error', fail);
      };
      function fail(err: Error): void {
        cleanup();
        child.kill('SIGKILL');
        reject(err);
      }
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.once('error', fail);
    });
    return new BenchProcess(name, child, url);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The process's own view of its memory and CPU; `gc` runs a full collection first. */
  stats(gc = false): Promise<ProcessStats> {
    const id = this.nextId++;
    return new Promise<ProcessStats>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name} did not answer a stats request`));
      }, 10000);
      this.waiting.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      this.child.send({ type: 'stats', id, gc } satisfies ParentMessage);
    });
  }

  /** Asks the process to close and exit (so --cpu-prof can write), then kills it if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ParentMessage);
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
