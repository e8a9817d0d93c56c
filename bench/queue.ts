/**
 * Queued delivery's benchmark, for both stores: how many messages per second the gateway
 * accepts (202 after the store's commit; SQLite fsyncs each group commit) and how many per
 * second its worker delivers to a fast upstream once the upstream is available.
 *
 * Phase 1 holds the upstream's breaker open, so nothing is delivered while `messages` POSTs
 * arrive on `connections` keep-alive connections; phase 2 closes it and times the backlog's
 * delivery at `queue.concurrency` 16. The gateway, the client and the upstream share one
 * process, so both figures are floors. Redis is Debian's redis-server on a unix socket,
 * started here (skipped, with a note, when it is not installed).
 *
 * `node dist/bench/queue.js [--messages N] [--connections N]`, or as part of `npm run bench`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config/load';
import { Gateway } from '../src/gateway';
import { createLogger } from '../src/server/logging';

export interface QueueBenchResult {
  store: 'sqlite' | 'redis';
  messages: number;
  connections: number;
  /** 202s per second while nothing is delivered. */
  acceptedPerSecond: number;
  /** Deliveries per second of the backlog, once the upstream is available. */
  deliveredPerSecond: number;
  errors: number;
}

export interface QueueBenchOutcome {
  results: QueueBenchResult[];
  notes: string[];
}

async function fastUpstream(): Promise<{ url: string; count: () => number; close(): Promise<void> }> {
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': 11 });
      res.end('{"ok":true}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => count,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

async function startRedisServer(dir: string): Promise<{ url: string; stop(): Promise<void> } | null> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error) return null;
  const socket = path.join(dir, 'redis.sock');
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  const net = await import('node:net');
  for (let i = 0; i < 400; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const c = net.createConnection(socket);
      c.once('error', () => resolve(false));
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
    });
    if (up) return { url: `unix://${socket}`, stop: async () => void (child.kill('SIGTERM'), await exited) };
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  return null;
}

/** `messages` POSTs over `connections` keep-alive connections; resolves with the count of non-202 answers. */
async function submit(url: string, messages: number, connections: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let next = 0;
  let errors = 0;
  const body = JSON.stringify({ orgNumber: '556677-8899', amountSek: 250000 });
  const one = (n: number): Promise<void> => new Promise((resolve) => {
    const req = http.request(`${url}/api/applications`, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Idempotency-Key': `bench-${n}` } });
    req.on('response', (res) => {
      if (res.statusCode !== 202) errors++;
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end(body);
  });
  await Promise.all(Array.from({ length: connections }, async () => {
    while (next < messages) await one(next++);
  }));
  agent.destroy();
  return errors;
}

async function measure(store: 'sqlite' | 'redis', queue: Record<string, unknown>, messages: number, connections: number): Promise<QueueBenchResult> {
  const upstream = await fastUpstream();
  const config = parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    queue: { ...queue, concurrency: 16, pollIntervalMs: 20 },
    upstreams: { business: { url: upstream.url } },
    routes: [{ path: '/api/applications', upstream: 'business', delivery: 'queued' }],
  });
  const gw = new Gateway(config, { logger: createLogger('silent'), processMetrics: false });
  await gw.start({ port: 0, host: '127.0.0.1' });
  try {
    const breaker = gw.registry.get('business').breaker;
    breaker.forceOpen('bench');
    const t0 = performance.now();
    const errors = await submit(gw.url, messages, connections);
    const acceptSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    breaker.reset();
    const deadline = Date.now() + 300000;
    while (upstream.count() < messages - errors && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const deliverSeconds = (performance.now() - t1) / 1000;
    return {
      store,
      messages,
      connections,
      acceptedPerSecond: Math.round((messages - errors) / acceptSeconds),
      deliveredPerSecond: Math.round(upstream.count() / deliverSeconds),
      errors,
    };
  } finally {
    await gw.close();
    await upstream.close();
  }
}

export async function runQueueBench(messages: number, connections: number, log: (line: string) => void = () => {}): Promise<QueueBenchOutcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-queue-bench-'));
  const results: QueueBenchResult[] = [];
  const notes: string[] = [];
  try {
    log(`queue: sqlite, ${messages} messages over ${connections} connections`);
    results.push(await measure('sqlite', { store: 'sqlite', path: path.join(dir, 'queue.db') }, messages, connections));
    const redis = await startRedisServer(dir);
    if (redis) {
      try {
        log(`queue: redis, ${messages} messages over ${connections} connections`);
        results.push(await measure('redis', { store: 'redis', url: redis.url, prefix: 'bench' }, messages, connections));
      } finally {
        await redis.stop();
      }
    } else {
      notes.push('redis-server is not installed (apt-get install -y redis-server): the redis store was not measured');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { results, notes };
}

/** Lines for the console and RESULTS.md. */
export function queueReport(outcome: QueueBenchOutcome): string {
  const lines = [
    '## Queued delivery',
    '',
    'Gateway, client and upstream in one process (figures are floors); SQLite fsyncs accepted messages before their 202 (WAL, synchronous=FULL, one group commit per event-loop turn); Redis on a unix socket without persistence.',
    '',
    '| store | messages | connections | accepted msg/s | delivered msg/s | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...outcome.results.map((r) => `| ${r.store} | ${r.messages} | ${r.connections} | ${r.acceptedPerSecond.toLocaleString('en-US')} | ${r.deliveredPerSecond.toLocaleString('en-US')} | ${r.errors} |`),
    ...outcome.notes.map((n) => `\nNote: ${n}`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(name);
    return i === -1 ? fallback : Number(process.argv[i + 1]);
  };
  runQueueBench(arg('--messages', 2000), arg('--connections', 16), (l) => process.stderr.write(`${l}\n`)).then(
    (o) => {
      process.stdout.write(`${queueReport(o)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`queue bench: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
