import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { BenchProcess } from './processes';
import { TARGETS, type TargetId } from './targets';

/**
 * `npm run bench:instructions`: user-space instructions per request of each target, counted
 * by valgrind's callgrind. Unlike time, the count barely moves with what else the machine
 * does (repeat runs agree within about 0.5 %), so it is the figure to compare two builds by
 * on a shared or noisy machine. It leaves out the kernel (system calls) and the cost of
 * cache misses, so it complements `npm run bench`, it does not replace it.
 */

const USAGE = `Usage: npm run bench:instructions -- [--only b,d] [--warmup N] [--requests N]

Counts, with valgrind's callgrind, the user-space instructions each target spends per
request: WARMUP requests with counting off (JIT warm-up), then REQUESTS with counting on,
over 8 keep-alive connections. Needs valgrind (apt-get install -y valgrind). About 50 s a target.

  --only a,b,...   targets (b,c,d)
  --warmup N       uncounted requests first (6000)
  --requests N     counted requests (3000)`;

interface Options {
  only: TargetId[];
  warmup: number;
  requests: number;
}

function parse(argv: string[]): Options {
  const o: Options = { only: ['b', 'c', 'd'], warmup: 6000, requests: 3000 };
  for (let i = 0; i < argv.length; i++) {
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    const count = (name: string): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
      return n;
    };
    switch (argv[i]) {
      case '--only':
        o.only = value().split(',').map((id) => {
          if (!(id in TARGETS)) throw new Error(`unknown target "${id}" (a, b, c, d or e)`);
          return id as TargetId;
        });
        break;
      case '--warmup': o.warmup = count('--warmup'); break;
      case '--requests': o.requests = count('--requests'); break;
      case '--help': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return o;
}

/** Sends `n` GETs over 8 keep-alive connections; rejects on the first error or unexpected status. */
async function send(url: string, n: number, status: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      await new Promise<void>((resolve, reject) => {
        http.get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === status ? resolve() : reject(new Error(`${url} answered ${res.statusCode}`))));
        }).on('error', reject);
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    agent.destroy();
  }
}

/** Starts a target under callgrind with counting off; resolves with its URL once it listens. */
async function startUnderCallgrind(id: TargetId, upstreamUrl: string, outDir: string): Promise<{ child: ChildProcess; url: string }> {
  const spec = TARGETS[id];
  const args = id === 'a' ? ['--kind', 'net'] : ['--upstream', upstreamUrl];
  const child = spawn('valgrind', [
    '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${path.join(outDir, `${id}.%p`)}`,
    process.execPath, ...(spec.nodeFlags ?? []), path.join(__dirname, spec.script), ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`(${id}) did not start under valgrind within 120 s`)), 120_000);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`(${id}) exited (code ${code}) before it listened`)));
  });
  return { child, url };
}

function callgrindControl(pid: number, on: boolean): void {
  const r = spawnSync('callgrind_control', ['-i', on ? 'on' : 'off', String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`callgrind_control failed: ${r.stderr || r.stdout}`);
}

/** Sum of the `totals:` lines of every callgrind output file of target `id` (one per process). */
function totalInstructions(outDir: string, id: TargetId): number {
  let total = 0;
  for (const file of readdirSync(outDir).filter((f) => f.startsWith(`${id}.`))) {
    const m = /^totals:\s*(\d+)/m.exec(readFileSync(path.join(outDir, file), 'utf8'));
    if (m?.[1]) total += Number(m[1]);
  }
  return total;
}

async function measure(id: TargetId, upstreamUrl: string, o: Options, outDir: string): Promise<number> {
  const spec = TARGETS[id];
  const { child, url } = await startUnderCallgrind(id, upstreamUrl, outDir);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const target = url + spec.path;
    await send(target, o.warmup, spec.status);
    callgrindControl(child.pid as number, true);
    await send(target, o.requests, spec.status);
    callgrindControl(child.pid as number, false);
  } finally {
    child.kill('SIGINT');
    await exited;
  }
  return totalInstructions(outDir, id) / o.requests;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  if (spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('valgrind was not found (apt-get install -y valgrind)');
  }
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-callgrind-'));
  const upstream = await BenchProcess.start('upstream', 'upstream.js', ['--kind', 'net'], { core: null });
  const results: { id: TargetId; perRequest: number }[] = [];
  try {
    for (const id of o.only) {
      process.stderr.write(`(${id}) ${TARGETS[id].label}: ${o.warmup} requests uncounted, then ${o.requests} counted\n`);
      results.push({ id, perRequest: await measure(id, upstream.url, o, outDir) });
    }
  } finally {
    await upstream.stop();
    rmSync(outDir, { recursive: true, force: true });
  }
  const raw = results.find((r) => r.id === 'b');
  process.stdout.write('\nuser-space instructions per request (callgrind)\n');
  for (const r of results) {
    // As a throughput ratio: a target that needs twice the raw proxy's instructions is 0.5× as fast.
    const ratio = raw && r.id !== 'b' ? `   ${r.id}/b ${(raw.perRequest / r.perRequest).toFixed(2)}×` : '';
    process.stdout.write(`(${r.id})  ${TARGETS[r.id].label.padEnd(38)} ${Math.round(r.perRequest / 1000).toLocaleString('en-US').padStart(6)}k${ratio}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:instructions: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
