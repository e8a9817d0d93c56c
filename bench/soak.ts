/**
 * `npm run soak`: sends a bounded number of requests (1 million by default) through a real
 * gateway at an upstream that fails in a fixed mix of ways, then reports the answers by
 * code, the unexpected ones (must be 0) and memory after warm-up and at the end (growth
 * under 10 %). Exit code 0 when all of that holds, 1 otherwise, 2 for bad arguments.
 *
 *   npm run soak -- --requests 200000 --concurrency 128 [--timeout-ms 1000] [--seed 7] [--json]
 *
 * Run it on an otherwise idle machine: load generator, gateway and upstream share one process,
 * and a process starved of CPU for a whole upstream timeout reports healthy requests as timed out.
 *
 * SOAK_REQUESTS and SOAK_CONCURRENCY set the same from the environment.
 */
import { formatReport, runSoak, type SoakOptions } from './soak-core';

const USAGE = 'usage: node dist/bench/soak.js [--requests N] [--concurrency N] [--timeout-ms N] [--seed N] [--json]';

function parse(argv: readonly string[], env: NodeJS.ProcessEnv): (SoakOptions & { json: boolean }) | string {
  const out: SoakOptions & { json: boolean } = { json: false };
  const positive = (name: string, value: string | undefined): number | string => {
    const n = Number(value);
    return Number.isInteger(n) && n > 0 ? n : `${name} needs a positive integer, got ${value ?? 'nothing'}`;
  };
  const fromEnv: [string, keyof SoakOptions][] = [['SOAK_REQUESTS', 'requests'], ['SOAK_CONCURRENCY', 'concurrency']];
  for (const [name, key] of fromEnv) {
    if (env[name] === undefined || env[name] === '') continue;
    const n = positive(name, env[name]);
    if (typeof n === 'string') return n;
    (out as unknown as Record<string, number>)[key] = n;
  }
  const flags: Record<string, keyof SoakOptions> = { '--requests': 'requests', '--concurrency': 'concurrency', '--timeout-ms': 'upstreamTimeoutMs', '--seed': 'seed' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--json') {
      out.json = true;
      continue;
    }
    if (arg === '--help' || arg === '-h') return USAGE;
    const [flag = '', inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const key = flags[flag];
    if (!key) return `unknown argument: ${arg}\n${USAGE}`;
    const n = positive(flag, inline ?? argv[++i]);
    if (typeof n === 'string') return n;
    (out as unknown as Record<string, number>)[key] = n;
  }
  return out;
}

async function main(): Promise<number> {
  const options = parse(process.argv.slice(2), process.env);
  if (typeof options === 'string') {
    process.stderr.write(`${options}\n`);
    return options === USAGE ? 0 : 2;
  }
  const startedAt = Date.now();
  const report = await runSoak({
    ...options,
    onProgress: (done, total) => {
      const s = (Date.now() - startedAt) / 1000;
      process.stderr.write(`  ${done}/${total} (${Math.round((done / total) * 100)} %) after ${s.toFixed(0)} s\n`);
    },
  });
  process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
