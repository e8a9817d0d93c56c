/**
 * A small Toxiproxy-like TCP proxy (Toxiproxy itself cannot be installed here): put it between
 * the gateway and a test upstream to break the *network* rather than the HTTP server —
 * refused connections, black holes, latency, slow or cut-off links, resets.
 *
 * Each accepted connection is dialled through to the target and spliced with one Transform per
 * direction; a fault is just a different Transform (one factory per fault below). A fault is
 * chosen when a connection is accepted, so `set()` never changes a connection in progress.
 */
import { once } from 'node:events';
import net from 'node:net';
import { PassThrough, Transform, type TransformOptions } from 'node:stream';

export type Fault =
  | { kind: 'none' }
  /** Close the listener: new connections get ECONNREFUSED, open ones are closed. Any other fault reopens the SAME port. */
  | { kind: 'refuse' }
  /** Accept and read, never forward, answer or close. With direction 'both' the target is not even dialled. */
  | { kind: 'blackhole' }
  /** Hold each chunk `ms` (± up to `jitterMs`) after it arrived; order is kept. */
  | { kind: 'latency'; ms: number; jitterMs?: number }
  | { kind: 'bandwidth'; bytesPerSecond: number }
  /** Forward in segments of `sizeBytes`, `delayMs` apart. */
  | { kind: 'slicer'; sizeBytes: number; delayMs: number }
  /** Forward `bytes` bytes in the direction, then close: the receiver gets them and a clean FIN, the sender is destroyed. */
  | { kind: 'limit-data'; bytes: number }
  /** TCP RST to both peers, on accept or `afterMs` after it (forwarding normally until then). Ignores direction. */
  | { kind: 'reset-peer'; afterMs?: number }
  /** Forward normally but pass the close (FIN) on `delayMs` late. */
  | { kind: 'slow-close'; delayMs: number };

/** 'upstream' = bytes flowing client → target, 'downstream' = target → client. */
export type Direction = 'upstream' | 'downstream' | 'both';

export interface FaultOptions {
  /** Default 'both'. */
  direction?: Direction;
  /** Chance that a newly accepted connection gets the fault, else it is proxied cleanly. Default 1. */
  probability?: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`; the proxy itself speaks plain TCP, so use https:// yourself for a TLS target. */
  readonly url: string;
  readonly port: number;
  /**
   * Applies to connections accepted from now on. Resolves once in effect, which matters only
   * for 'refuse' and for leaving it (the listener closes or reopens): await it then.
   */
  set(fault: Fault, options?: FaultOptions): Promise<void>;
  /** Bytes counted as the proxy forwards them, after any fault has dropped or delayed them. */
  readonly stats: { connections: number; bytesToUpstream: number; bytesToClient: number };
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const proxy = new TcpFaultProxy(target);
  await proxy.listen(0);
  return proxy;
}

interface Active {
  fault: Fault;
  direction: Direction;
  probability: number;
}

const NONE: Fault = { kind: 'none' };

class TcpFaultProxy implements FaultProxy {
  readonly stats = { connections: 0, bytesToUpstream: 0, bytesToClient: 0 };
  private active: Active = { fault: NONE, direction: 'both', probability: 1 };
  private readonly sockets = new Set<net.Socket>();
  // allowHalfOpen: a client's FIN must travel on to the target without us closing the reply path.
  private readonly server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client));
  private boundPort = 0;
  private settled: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(port: number): Promise<void> {
    if (this.server.listening || this.closed) return;
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening'); // rejects on 'error', e.g. EADDRINUSE on reopening
    this.boundPort = (this.server.address() as net.AddressInfo).port;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  set(fault: Fault, options: FaultOptions = {}): Promise<void> {
    const probability = options.probability ?? 1;
    if (!(probability >= 0 && probability <= 1)) throw new RangeError(`probability must be within 0..1, got ${probability}`);
    if (fault.kind === 'refuse' && probability !== 1) {
      throw new Error("'refuse' closes the listener, so it cannot apply to only some connections");
    }
    this.active = { fault, direction: options.direction ?? 'both', probability };
    // Listener changes run one after another, so quick set() calls cannot interleave.
    const change = (): Promise<void> => (fault.kind === 'refuse' ? this.stopListening() : this.listen(this.boundPort));
    const step = this.settled.then(change, change);
    this.settled = step.catch(() => undefined);
    return step;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.settled;
    await this.stopListening();
  }

  /**
   * Like disabling a Toxiproxy proxy, refusing also closes the connections already open:
   * otherwise a client's pooled keep-alive connection would still reach the "down" target.
   */
  private async stopListening(): Promise<void> {
    // Wait for every socket, the dialled ones too, so nothing is left open when close() resolves.
    const socketsClosed = [...this.sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
    for (const socket of this.sockets) socket.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all(socketsClosed);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true); // send each write as it comes, or Nagle would merge the slicer's segments
    socket.on('error', () => undefined); // handled in splice(); this only keeps a stray error from crashing jest
    socket.on('close', () => this.sockets.delete(socket));
  }

  private accept(client: net.Socket): void {
    this.stats.connections++;
    this.track(client);
    const { fault, direction, probability } = this.active;
    const chosen = Math.random() < probability ? fault : NONE;

    if (chosen.kind === 'reset-peer' && !chosen.afterMs) return void client.resetAndDestroy();
    if (chosen.kind === 'blackhole' && direction === 'both') return void client.resume();

    const upstream = net.connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    this.track(upstream);
    // limit-data: once the limit is reached, the side that sent too much is cut off.
    const toUpstream = affects(direction, 'upstream') ? faultStream(chosen, () => cutOff(client, upstream)) : new PassThrough();
    const toClient = affects(direction, 'downstream') ? faultStream(chosen, () => cutOff(upstream, client)) : new PassThrough();
    toUpstream.on('data', (chunk: Buffer) => (this.stats.bytesToUpstream += chunk.length));
    toClient.on('data', (chunk: Buffer) => (this.stats.bytesToClient += chunk.length));
    splice(client, upstream, toUpstream, toClient);

    if (chosen.kind === 'reset-peer') {
      const timer = setTimeout(() => [client, upstream].forEach(resetSocket), chosen.afterMs).unref();
      client.once('close', () => clearTimeout(timer));
    }
  }
}

function affects(direction: Direction, flow: 'upstream' | 'downstream'): boolean {
  return direction === 'both' || direction === flow;
}

/**
 * Pipes both ways and passes on *how* a side ended: a FIN travels through the transforms (so
 * latency or slow-close delay it), and an RST becomes an RST to the other peer, so a client
 * behind the proxy sees ECONNRESET exactly where it would without the proxy.
 */
function splice(client: net.Socket, upstream: net.Socket, toUpstream: Transform, toClient: Transform): void {
  client.pipe(toUpstream).pipe(upstream);
  upstream.pipe(toClient).pipe(client);
  const abortOther = (other: net.Socket) => (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET') resetSocket(other);
    else other.destroy(); // e.g. ECONNREFUSED from the target: the client sees its connection closed
  };
  client.on('error', abortOther(upstream));
  upstream.on('error', abortOther(client));
  // A transform's output is useless once its destination is gone; destroying it clears its timers.
  client.once('close', () => toClient.destroy());
  upstream.once('close', () => toUpstream.destroy());
}

function resetSocket(socket: net.Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

/**
 * Ends a limited direction: the sender is destroyed; the receiver gets its FIN from the pipe once
 * the allowed bytes are out. The receiver is drained, not destroyed, so those bytes cannot be
 * lost to an RST and its own FIN (which closes it) is still read.
 */
function cutOff(sender: net.Socket, receiver: net.Socket): void {
  sender.destroy();
  receiver.unpipe();
  receiver.resume();
}

function faultStream(fault: Fault, onLimit: () => void): Transform {
  switch (fault.kind) {
    case 'blackhole':
      return blackhole();
    case 'latency':
      return latency(fault.ms, fault.jitterMs ?? 0);
    case 'bandwidth':
      return bandwidth(fault.bytesPerSecond);
    case 'slicer':
      return paced(fault.sizeBytes, () => fault.delayMs);
    case 'limit-data':
      return limitData(fault.bytes, onLimit);
    case 'slow-close':
      return slowClose(fault.delayMs);
    case 'none':
    case 'refuse':
    case 'reset-peer':
      return new PassThrough(); // these act on the connection, not on the bytes
  }
}

type Sleep = (ms: number) => Promise<void>;

/** A Transform with a `sleep` whose timers are unref'd and cleared when the stream is destroyed. */
function timed(build: (sleep: Sleep) => TransformOptions): Transform {
  const timers = new Set<NodeJS.Timeout>();
  const sleep: Sleep = (ms) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, Math.max(0, ms)).unref();
      timers.add(timer);
    });
  return new Transform({
    ...build(sleep),
    destroy(err, callback) {
      timers.forEach(clearTimeout);
      callback(err);
    },
  });
}

function blackhole(): Transform {
  return new Transform({
    transform: (_chunk, _encoding, callback) => callback(), // read and discard
    flush: () => undefined, // never call back: a black hole does not pass on the close either
  });
}

/** Delays each chunk from the moment it arrived, like a long link: back-to-back chunks are not delayed one after another. */
function latency(ms: number, jitterMs: number): Transform {
  let queue = Promise.resolve();
  return timed((sleep) => ({
    transform(chunk: Buffer, _encoding, callback) {
      const due = Date.now() + ms + (Math.random() * 2 - 1) * jitterMs;
      queue = queue.then(() => sleep(due - Date.now())).then(() => void this.push(chunk));
      callback();
    },
    flush(callback) {
      void queue.then(() => callback());
    },
  }));
}

/** Sends `size`-byte segments, waiting `delayFor(segment)` after each. */
function paced(size: number, delayFor: (segment: Buffer) => number): Transform {
  return timed((sleep) => ({
    transform(chunk: Buffer, _encoding, callback) {
      void (async () => {
        for (let offset = 0; offset < chunk.length; offset += size) {
          const segment = chunk.subarray(offset, offset + size);
          this.push(segment);
          await sleep(delayFor(segment));
        }
        callback();
      })();
    },
  }));
}

/** Ten segments a second, each followed by the time it takes at the given rate. */
function bandwidth(bytesPerSecond: number): Transform {
  return paced(Math.max(1, Math.floor(bytesPerSecond / 10)), (segment) => (segment.length * 1000) / bytesPerSecond);
}

function limitData(bytes: number, onLimit: () => void): Transform {
  let left = bytes;
  let done = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (done) return callback(); // past the limit: swallow
      const allowed = chunk.subarray(0, left);
      left -= allowed.length;
      if (allowed.length > 0) this.push(allowed);
      if (left === 0) {
        done = true;
        this.push(null); // the pipe ends the receiver after it has the allowed bytes: a clean FIN
        onLimit();
      }
      callback();
    },
  });
}

function slowClose(delayMs: number): Transform {
  return timed((sleep) => ({
    transform: (chunk: Buffer, _encoding, callback) => callback(null, chunk),
    flush(callback) {
      void sleep(delayMs).then(() => callback());
    },
  }));
}
