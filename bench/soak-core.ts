/**
 * The soak (issue 6): a bounded number of requests through a real gateway at an upstream
 * that fails in every way it can, in a fixed mix. Each request names the fault the upstream
 * must inject (`x-soak-fault`) and carries an id the upstream echoes, so every answer can be
 * judged exactly: the expected status or problem code, the upstream's body for *this*
 * request (no cross-talk between connections), an aborted connection where the body broke
 * off. Anything else is unexpected, and there must be none. Memory is measured after a
 * warm-up and at the end, each after a full GC, to find leaks that only show over time.
 *
 * Everything runs in this process: load generator, gateway, upstream. Used by
 * `npm run soak` (bench/soak.ts, 1 million requests) and by a short run in `npm test`.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../src/config/load';
import { Gateway } from '../src/gateway';
import { createLogger } from '../src/server/logging';

/** What the upstream does with one request. */
export type SoakFault = 'ok' | 'post' | 'slow' | 'status-500' | 'status-404' | 'hang' | 'reset' | 'die-mid-body' | 'bad-http';

/** Share of requests per fault, in percent (sums to 100). */
export const FAULT_MIX: Readonly<Record<SoakFault, number>> = Object.freeze({
  ok: 67,
  post: 10,
  slow: 2,
  'status-500': 4,
  'status-404': 4,
  hang: 1,
  reset: 4,
  'die-mid-body': 4,
  'bad-http': 4,
});

export interface SoakOptions {
  /** Requests to send in total (default 1 000 000). */
  requests?: number;
  /** Requests in flight at once (default 64). */
  concurrency?: number;
  /** Share of the requests that warm up before the first memory reading (default 0.1). */
  warmupFraction?: number;
  /**
   * The gateway's upstream timeoutMs; 'hang' requests take this long (default 1000). Far above
   * the upstream's normal answer time (< 1 ms), so only a process starved of CPU for that long
   * could see a healthy request time out: run the full soak on an otherwise idle machine.
   */
  upstreamTimeoutMs?: number;
  /** Seed of the fault sequence (default 1). */
  seed?: number;
  /** Called about every 5 % of the run. */
  onProgress?(done: number, total: number): void;
}

export interface MemoryReading {
  rssBytes: number;
  heapUsedBytes: number;
}

export interface SoakReport {
  requests: number;
  concurrency: number;
  durationMs: number;
  requestsPerSecond: number;
  /** How many requests asked for each fault. */
  injected: Record<SoakFault, number>;
  /** Answers by kind: an HTTP status for upstream answers, the problem code for the gateway's, `aborted` for a broken body. */
  answers: Record<string, number>;
  /** Answers that were not exactly what their fault must produce. */
  unexpected: number;
  /** Up to 20 of them, described. */
  unexpectedSamples: string[];
  memory: {
    /** After warm-up and a full GC. */
    start: MemoryReading;
    /** After the last answer and a full GC. */
    end: MemoryReading;
    rssGrowthPercent: number;
    heapGrowthPercent: number;
    /** Whether a full GC could be forced (otherwise the readings are noisier). */
    gcForced: boolean;
  };
  /**
   * Times the whole process stood still (no timer ran) for at least STALL_MS: the machine was
   * overloaded or the VM paused. Reported only: the gateway waits out its own stalls.
   */
  stalls: { count: number; longestMs: number };
  /**
   * UPSTREAM_TIMEOUT answers to requests the upstream did not act on (answer, reset, garbage)
   * within timeoutMs of their sending: the right verdict for what the gateway saw, by fault.
   * The soak's upstream shares one process with the gateway and the load, and on a starved
   * machine it can be that late; these are counted here, not in `unexpected`. A timeout of a
   * request the upstream did act on in time is always unexpected.
   */
  lateUpstream: Partial<Record<SoakFault, number>>;
  /** Requests the gateway still counted in flight after the last answer (must be 0). */
  gatewayInFlightAtEnd: number;
  /** unexpected === 0, nothing left in flight and heap and RSS growth under 10 %. */
  ok: boolean;
}

const ROUTE = '/api/soak';
const POST_BODY = JSON.stringify({ applicant: '556677-8899', amount: 250000, currency: 'SEK', pad: 'x'.repeat(300) });

interface Answer {
  status: number;
  code: string | undefined;
  body: string;
  complete: boolean;
  error: string | undefined;
}

/** The one correct outcome for each fault; returns a description of what was wrong, or null. */
function judge(fault: SoakFault, id: number, a: Answer): string | null {
  const echo = JSON.stringify({ id: String(id) });
  const problem = (status: number, code: string): string | null =>
    a.status === status && a.code === code && a.complete ? null : `expected ${status} ${code}`;
  switch (fault) {
    case 'ok':
    case 'slow':
      return a.status === 200 && a.complete && a.body === echo ? null : `expected 200 with ${echo}`;
    case 'post':
      return a.status === 200 && a.complete && a.body === JSON.stringify({ id: String(id), bytes: Buffer.byteLength(POST_BODY) }) ? null : 'expected 200 with the echoed body size';
    case 'status-500':
      return a.status === 500 && a.complete && a.code === undefined ? null : 'expected the upstream 500 passed through';
    case 'status-404':
      return a.status === 404 && a.complete && a.code === undefined ? null : 'expected the upstream 404 passed through';
    case 'hang':
      return problem(504, 'UPSTREAM_TIMEOUT');
    case 'reset':
      return problem(502, 'UPSTREAM_CONNECTION_LOST');
    case 'bad-http':
      return problem(502, 'UPSTREAM_BAD_RESPONSE');
    case 'die-mid-body':
      // Headers were relayed, then the body broke off: the caller must see the break.
      return a.status === 200 && !a.complete ? null : 'expected 200 headers, then an aborted body';
  }
}

function kindOf(a: Answer): string {
  if (a.error !== undefined && a.status === 0) return `client error ${a.error}`;
  if (!a.complete) return 'aborted';
  return a.code ?? String(a.status);
}

/** mulberry32: a small, fast, seeded PRNG, so a run's fault sequence is reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function faultPicker(seed: number): () => SoakFault {
  const slots: SoakFault[] = [];
  for (const [fault, share] of Object.entries(FAULT_MIX) as [SoakFault, number][]) for (let i = 0; i < share; i++) slots.push(fault);
  const random = prng(seed);
  return () => slots[Math.floor(random() * slots.length)] as SoakFault;
}

/**
 * The mixed-fault upstream: obeys `x-soak-fault`, echoes `x-soak-id`. `actedAt` holds, by id,
 * when it answered, reset or wrote garbage (performance.now()); the reader deletes the entry.
 */
async function startSoakUpstream(): Promise<{ url: string; actedAt: Map<string, number>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const actedAt = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const fault = req.headers['x-soak-fault'] as SoakFault | undefined;
    const id = String(req.headers['x-soak-id'] ?? '');
    const acted = (): void => void actedAt.set(id, performance.now());
    if (fault === 'reset') {
      acted();
      req.socket.resetAndDestroy();
      return;
    }
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    // Answer only after the whole request was read, or closing would turn every fault into a reset.
    req.on('end', () => {
      const json = (status: number, body: unknown): void => {
        acted();
        const text = JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      };
      switch (fault) {
        case 'post':
          return json(200, { id, bytes });
        case 'slow': {
          const timer = setTimeout(() => json(200, { id }), 20);
          res.once('close', () => clearTimeout(timer));
          return;
        }
        case 'status-500':
          return json(500, { error: 'injected' });
        case 'status-404':
          return json(404, { error: 'no such loan' });
        case 'hang':
          return; // the gateway's timeout must end it
        case 'die-mid-body':
          acted();
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '1000' });
          res.write('0123456789', () => res.socket?.destroy());
          return;
        case 'bad-http':
          acted();
          res.socket?.end('HTTP/1.1 abc garbage\r\n\r\n');
          return;
        default:
          return json(200, { id });
      }
    });
  });
  server.keepAliveTimeout = 10000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    actedAt,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        sockets.forEach((s) => s.destroy());
      }),
  };
}

function send(agent: http.Agent, port: number, fault: SoakFault, id: number): Promise<Answer> {
  return new Promise((resolve) => {
    const post = fault === 'post';
    const headers: Record<string, string> = { 'x-soak-fault': fault, 'x-soak-id': String(id) };
    if (post) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(POST_BODY));
    }
    let settled = false;
    const done = (a: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const req = http.request({ host: '127.0.0.1', port, path: `${ROUTE}/${fault}`, method: post ? 'POST' : 'GET', agent, headers });
    // A caller must never hang: far beyond every deadline of the gateway, give up and report it.
    const timer = setTimeout(() => {
      req.destroy();
      done({ status: 0, code: undefined, body: '', complete: false, error: 'CLIENT_TIMEOUT' });
    }, 10000);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const finish = (error: string | undefined): void => {
        const body = Buffer.concat(chunks).toString('utf8');
        let code: string | undefined;
        if (String(res.headers['content-type']).startsWith('application/problem+json')) {
          try {
            code = (JSON.parse(body) as { code?: string }).code;
          } catch {
            code = 'UNPARSEABLE_PROBLEM';
          }
        }
        done({ status: res.statusCode ?? 0, code, body, complete: res.complete && error === undefined, error });
      };
      res.on('end', () => finish(res.complete ? undefined : 'aborted'));
      res.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'aborted'));
      res.on('close', () => finish(res.complete ? undefined : 'aborted'));
    });
    req.on('error', (err: NodeJS.ErrnoException) => done({ status: 0, code: undefined, body: '', complete: false, error: err.code ?? err.message }));
    req.end(post ? POST_BODY : undefined);
  });
}

/** A full GC when it can be had: `--expose-gc` set at run time, reached through a fresh context. */
function gcFunction(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

async function readMemory(gc: (() => void) | null): Promise<MemoryReading> {
  if (gc) {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
  }
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed };
}

/** A pause of the whole event loop this long or longer counts as a stall. */
const STALL_MS = 250;

/**
 * Notices when the process as a whole stands still: a 20 ms interval that runs late by
 * STALL_MS or more. (A busy but healthy event loop runs it a few ms late.)
 */
function watchStalls(): { stalls: { start: number; end: number }[]; stop(): void } {
  const stalls: { start: number; end: number }[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last - 20 >= STALL_MS) stalls.push({ start: last, end: now });
    last = now;
  }, 20);
  return { stalls, stop: () => clearInterval(timer) };
}

const growth = (start: number, end: number): number => Math.round(((end - start) / start) * 1000) / 10;

export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const total = options.requests ?? 1_000_000;
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 64, total));
  const warmup = Math.floor(total * (options.warmupFraction ?? 0.1));
  const pick = faultPicker(options.seed ?? 1);
  const gc = gcFunction();

  const upstream = await startSoakUpstream();
  const timeoutMs = options.upstreamTimeoutMs ?? 1000;
  // Logging stays on (it is part of every request's cost and could leak too), into a sink.
  const sink = { write: (): void => undefined };
  const gateway = new Gateway(
    parseConfig({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
      upstreams: { mixed: { url: upstream.url, timeoutMs, connectTimeoutMs: 1000, maxConcurrent: concurrency * 2 } },
      routes: [{ path: '/api', upstream: 'mixed', maxBodyBytes: 4096 }],
    }),
    { logger: createLogger('info', sink), processMetrics: false },
  );
  const { port } = await gateway.start({ port: 0, host: '127.0.0.1' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

  const injected = Object.fromEntries(Object.keys(FAULT_MIX).map((f) => [f, 0])) as Record<SoakFault, number>;
  const answers: Record<string, number> = {};
  const unexpectedSamples: string[] = [];
  let unexpected = 0;
  let next = 0;
  let completed = 0;
  let inFlight = 0;
  let start: MemoryReading | undefined;
  /** Set while the load pauses for the first memory reading. */
  let gate: Promise<void> | null = null;
  // Memory is read at rest, as at the end: no request in flight, nothing half-done in the gateway.
  const measureStart = async (): Promise<void> => {
    while (inFlight > 0 || gateway.state.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    start = await readMemory(gc);
    gate = null;
  };
  const progressStep = Math.max(1, Math.floor(total / 20));
  const startedAt = Date.now();
  const watch = watchStalls();
  const lateUpstream: Partial<Record<SoakFault, number>> = {};

  try {
    const worker = async (): Promise<void> => {
      for (;;) {
        while (gate) await gate;
        if (next >= total) return;
        const id = next++;
        const fault = pick();
        injected[fault]++;
        inFlight++;
        const sentAt = performance.now();
        const answer = await send(agent, port, fault, id);
        inFlight--;
        const actedAt = upstream.actedAt.get(String(id)) ?? Infinity;
        upstream.actedAt.delete(String(id));
        const kind = kindOf(answer);
        answers[kind] = (answers[kind] ?? 0) + 1;
        const wrong = judge(fault, id, answer);
        if (wrong !== null && answer.code === 'UPSTREAM_TIMEOUT' && fault !== 'hang' && actedAt - sentAt >= timeoutMs) {
          lateUpstream[fault] = (lateUpstream[fault] ?? 0) + 1;
        } else if (wrong !== null) {
          unexpected++;
          if (unexpectedSamples.length < 20) unexpectedSamples.push(`#${id} ${fault}: ${wrong}, got ${kind} (status ${answer.status}${answer.error ? `, ${answer.error}` : ''})`);
        }
        completed++;
        if (completed === warmup) gate = measureStart();
        if (completed % progressStep === 0) options.onProgress?.(completed, total);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const durationMs = Date.now() - startedAt;
    // The breaker and in-flight count settle a moment after the last answer.
    for (let i = 0; i < 100 && gateway.state.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
    const gatewayInFlightAtEnd = gateway.state.inFlight;
    const end = await readMemory(gc);
    const first = start ?? end;
    const memory = {
      start: first,
      end,
      rssGrowthPercent: growth(first.rssBytes, end.rssBytes),
      heapGrowthPercent: growth(first.heapUsedBytes, end.heapUsedBytes),
      gcForced: gc !== null,
    };
    return {
      requests: total,
      concurrency,
      durationMs,
      requestsPerSecond: Math.round((total / Math.max(1, durationMs)) * 1000),
      injected,
      answers,
      unexpected,
      stalls: { count: watch.stalls.length, longestMs: Math.round(Math.max(0, ...watch.stalls.map((st) => st.end - st.start))) },
      lateUpstream,
      unexpectedSamples,
      memory,
      gatewayInFlightAtEnd,
      ok: unexpected === 0 && gatewayInFlightAtEnd === 0 && memory.heapGrowthPercent < 10 && memory.rssGrowthPercent < 10,
    };
  } finally {
    watch.stop();
    agent.destroy();
    await gateway.close();
    await upstream.close();
  }
}

/** The report as a few readable lines. */
export function formatReport(r: SoakReport): string {
  const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MB`;
  const lines = [
    `soak: ${r.requests} requests, concurrency ${r.concurrency}, ${(r.durationMs / 1000).toFixed(1)} s, ${r.requestsPerSecond} req/s`,
    'answers by code:',
    ...Object.entries(r.answers)
      .sort((a, b) => b[1] - a[1])
      .map(([kind, n]) => `  ${kind.padEnd(28)} ${String(n).padStart(9)}`),
    `injected faults: ${Object.entries(r.injected).map(([f, n]) => `${f} ${n}`).join(', ')}`,
    `unexpected answers: ${r.unexpected}`,
    `process stalls (>= ${STALL_MS} ms without any timer running): ${r.stalls.count}, longest ${r.stalls.longestMs} ms`,
    `timeouts of requests the upstream itself did not act on within timeoutMs (not counted as unexpected): ${Object.entries(r.lateUpstream).map(([f, n]) => `${f} ${n}`).join(', ') || 'none'}`,
    ...r.unexpectedSamples.map((s) => `  ${s}`),
    `memory after warm-up: rss ${mb(r.memory.start.rssBytes)}, heap ${mb(r.memory.start.heapUsedBytes)}`,
    `memory at the end:    rss ${mb(r.memory.end.rssBytes)}, heap ${mb(r.memory.end.heapUsedBytes)}`,
    `growth: rss ${r.memory.rssGrowthPercent} %, heap ${r.memory.heapGrowthPercent} % (limit 10 %)${r.memory.gcForced ? '' : ' (no forced GC: noisier)'}`,
    `gateway requests in flight at the end: ${r.gatewayInFlightAtEnd}`,
    r.ok ? 'RESULT: ok' : 'RESULT: FAILED',
  ];
  return lines.join('\n');
}
