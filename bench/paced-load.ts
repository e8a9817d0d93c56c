import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Histogram, type LatencySummary } from './histogram';

/** An open-loop measurement at a fixed request rate. */
export interface PacedResult {
  rate: number;
  achievedRps: number;
  durationSec: number;
  requests: number;
  latency: LatencySummary;
  errors: number;
  /** Requests that found every connection busy and had to wait in the generator. */
  queued: number;
}

export interface PacedOptions {
  url: string;
  path: string;
  /** Requests per second. */
  rate: number;
  durationSec: number;
  /** Keep-alive connections to spread requests over; more than the rate ever needs at once. */
  connections: number;
  expectStatus: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

interface Conn {
  socket: net.Socket;
  buf: Buffer;
  /** When the request in flight was due; undefined while idle. */
  since: number | undefined;
}

/**
 * A fixed-rate, open-loop load generator for the latency run. autocannon's rate limits send
 * each connection's whole per-second quota back to back at the top of every second, which
 * measures bursts at full speed rather than a steady half load. Here requests are released
 * on a ~1 ms timer at the requested rate over a pool of keep-alive sockets; a request that
 * finds every socket busy waits in a queue and its latency is counted from when it was due
 * (no coordinated omission). Answers are parsed just enough for bodies with Content-Length.
 */
export function runPaced(opts: PacedOptions): Promise<PacedResult> {
  const target = new URL(opts.url);
  const request = Buffer.from(`GET ${opts.path} HTTP/1.1\r\nHost: ${target.host}\r\nUser-Agent: breakwater-bench\r\n\r\n`);
  const hist = new Histogram();
  const idle: Conn[] = [];
  const backlog: number[] = [];
  const total = Math.round(opts.rate * opts.durationSec);
  let sent = 0;
  let answered = 0;
  let wrongStatus = 0;
  let lost = 0;
  let queued = 0;
  let start = 0;
  let finish: () => void = () => undefined;

  function send(conn: Conn, since: number): void {
    conn.since = since;
    conn.socket.write(request);
  }

  function onAnswer(conn: Conn, status: number): void {
    hist.record(performance.now() - (conn.since ?? performance.now()));
    if (status !== opts.expectStatus) wrongStatus++;
    answered++;
    conn.since = undefined;
    const next = backlog.shift();
    if (next !== undefined) send(conn, next);
    else idle.push(conn);
    if (answered + lost >= total) finish();
  }

  function parse(conn: Conn): void {
    for (;;) {
      const end = conn.buf.indexOf(HEAD_END);
      if (end === -1) return;
      const head = conn.buf.toString('latin1', 0, end);
      const length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
      if (conn.buf.length < end + 4 + length) return;
      conn.buf = conn.buf.subarray(end + 4 + length);
      onAnswer(conn, Number(head.slice(9, 12)));
    }
  }

  function open(): Promise<Conn> {
    return new Promise<Conn>((resolve, reject) => {
      const socket = net.connect(Number(target.port), target.hostname);
      const conn: Conn = { socket, buf: Buffer.alloc(0), since: undefined };
      socket.setNoDelay(true);
      socket.once('connect', () => resolve(conn));
      // Errors before connecting fail the run; later ones end in 'close', handled below.
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        conn.buf = conn.buf.length === 0 ? chunk : Buffer.concat([conn.buf, chunk]);
        parse(conn);
      });
      socket.on('close', () => {
        // A request lost with its connection is an error; the pool shrinks by one.
        if (conn.since !== undefined) {
          lost++;
          conn.since = undefined;
          if (answered + lost >= total) finish();
        }
        const i = idle.indexOf(conn);
        if (i !== -1) idle.splice(i, 1);
      });
    });
  }

  return (async () => {
    const conns = await Promise.all(Array.from({ length: opts.connections }, open));
    idle.push(...conns);
    const done = new Promise<void>((resolve) => (finish = resolve));
    start = performance.now();
    const interval = 1000 / opts.rate;
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      for (; sent < due; sent++) {
        // Timer lateness is the generator's, not the target's: count from now, not from the ideal instant.
        // Oldest idle first: every connection keeps being used, so none sits idle long enough
        // for the target's keep-alive timeout to close it under a request.
        const conn = idle.shift();
        if (conn) send(conn, now);
        else {
          backlog.push(now);
          queued++;
        }
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
    // Whatever has not come back 10 s after the last send is lost.
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, opts.durationSec * 1000 + 10000).unref());
    await Promise.race([done, deadline]);
    const durationSec = (performance.now() - start) / 1000;
    for (const c of conns) c.socket.destroy();
    return {
      rate: opts.rate,
      achievedRps: answered / durationSec,
      durationSec,
      requests: answered,
      latency: hist.summary(),
      errors: wrongStatus + (total - answered),
      queued,
    };
  })();
}
