import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/gateway-error';
import type { Clock } from '../core/clock';
import type { Transition } from '../upstreams/breaker';
import type { UpstreamRegistry } from '../upstreams/registry';
import { breakersSnapshot } from './breakers';
import type { QueueWorker } from '../queue/worker';
import { adminMessageView } from '../queue/views';

export interface EventStreamOptions {
  registry: UpstreamRegistry;
  clock: Clock;
  logger: Logger;
  /** How often every subscriber gets a `snapshot` event. */
  snapshotIntervalMs?: number;
  /** How often a `: heartbeat` comment keeps idle proxies and clients from timing out. */
  heartbeatIntervalMs?: number;
  /** A subscriber with more than this many bytes still unsent skips snapshots (and heartbeats). */
  softLimitBytes?: number;
  /** A subscriber with more than this many bytes unsent is disconnected. */
  hardLimitBytes?: number;
  /** Concurrent subscribers at most; beyond it new ones get 503 GATEWAY_OVERLOADED. */
  maxSubscribers?: number;
  /** Queued delivery's worker, when configured: a `message-dead` event for every message that goes dead. */
  queue?: QueueWorker;
}

interface Subscriber {
  res: ServerResponse;
  skipped: number;
}

const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-store',
  // Tells nginx-style reverse proxies not to buffer the stream.
  'X-Accel-Buffering': 'no',
};

/**
 * GET /admin/breakers/stream (SPEC §7): Server-Sent Events with a `state` event on every
 * breaker transition, a `snapshot` (the GET /admin/breakers body) every second and a
 * heartbeat comment. It listens to the breakers' `transition` events; it decides nothing.
 *
 * Memory stays bounded whoever is slow to read: a snapshot is built once per tick for all
 * subscribers, a subscriber whose unsent bytes exceed the soft limit skips snapshots (the
 * next one it gets supersedes those it missed, so nothing is lost but freshness), and one
 * over the hard limit (it keeps receiving `state` events, which are never skipped) is cut off;
 * its client reconnects and starts again from a fresh snapshot.
 */
export class EventStream {
  private readonly subscribers = new Set<Subscriber>();
  private readonly detach: (() => void)[] = [];
  private snapshotTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** False once the gateway drains: subscribers already here keep their stream until close(). */
  private accepting = true;
  private readonly snapshotIntervalMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly softLimitBytes: number;
  private readonly hardLimitBytes: number;
  private readonly maxSubscribers: number;

  constructor(private readonly options: EventStreamOptions) {
    this.snapshotIntervalMs = options.snapshotIntervalMs ?? 1000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 15000;
    this.softLimitBytes = options.softLimitBytes ?? 64 * 1024;
    this.hardLimitBytes = options.hardLimitBytes ?? 1024 * 1024;
    this.maxSubscribers = options.maxSubscribers ?? 256;
    for (const u of options.registry.all()) {
      const onTransition = (t: Transition): void => this.broadcastState(t);
      u.breaker.on('transition', onTransition);
      this.detach.push(() => u.breaker.off('transition', onTransition));
    }
    const queue = options.queue;
    if (queue) {
      const onDead = (m: Parameters<typeof adminMessageView>[0]): void => this.broadcast(`event: message-dead\ndata: ${JSON.stringify(adminMessageView(m))}\n\n`);
      queue.on('dead', onDead);
      this.detach.push(() => queue.off('dead', onDead));
    }
  }

  /** Subscribers connected right now. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Bytes written to subscribers but not yet sent, over all of them: what slow readers cost. */
  pendingBytes(): number {
    let total = 0;
    for (const { res } of this.subscribers) total += res.writableLength;
    return total;
  }

  /** Express-compatible handler; refusals go to `next` as problems. */
  handle(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    if (this.closed || !this.accepting) {
      return next(new GatewayError('GATEWAY_SHUTTING_DOWN', { detail: 'The gateway is shutting down.', retryAfterSeconds: 1 }));
    }
    if (this.subscribers.size >= this.maxSubscribers) {
      return next(new GatewayError('GATEWAY_OVERLOADED', { detail: `The event stream already has ${this.maxSubscribers} subscribers.`, retryAfterSeconds: 5 }));
    }
    res.writeHead(200, HEADERS);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    req.socket.setNoDelay(true);
    const sub: Subscriber = { res, skipped: 0 };
    this.subscribers.add(sub);
    res.on('close', () => this.remove(sub));
    // `retry` sets the client's reconnect delay; the first snapshot means no one waits a second for data.
    res.write(`retry: 2000\n\n${this.snapshotFrame()}`);
    this.startTimers();
  }

  /** From now on new subscribers get 503 GATEWAY_SHUTTING_DOWN; streams already open go on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Ends every stream cleanly (the terminating chunk, not a reset) and stops listening.
   * Resolves when the ends are flushed, or after `graceMs` for subscribers too slow to take them.
   */
  close(graceMs = 250): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.stopTimers();
    for (const d of this.detach) d();
    this.detach.length = 0;
    const ended = [...this.subscribers].map(({ res }) => new Promise<void>((resolve) => {
      res.once('finish', resolve);
      res.once('close', resolve);
      res.end();
    }));
    this.subscribers.clear();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    return Promise.race([Promise.all(ended).then(() => undefined), grace]).finally(() => clearTimeout(timer));
  }

  private broadcastState(t: Transition): void {
    if (this.subscribers.size === 0) return;
    const data = JSON.stringify({ name: t.name, target: t.target, from: t.from, to: t.to, at: new Date(t.at).toISOString(), reason: t.reason });
    this.broadcast(`event: state\ndata: ${data}\n\n`);
  }

  /** A frame every subscriber must get (never skipped for a slow reader). */
  private broadcast(frame: string): void {
    for (const sub of this.subscribers) this.send(sub, frame, false);
  }

  private snapshotFrame(): string {
    return `event: snapshot\ndata: ${JSON.stringify(breakersSnapshot(this.options.registry, this.options.clock))}\n\n`;
  }

  /** Writes a frame unless the subscriber is backed up; `droppable` frames are skipped then, others count toward the cut-off. */
  private send(sub: Subscriber, frame: string, droppable: boolean): void {
    const { res } = sub;
    if (res.destroyed || res.writableEnded) return;
    const pending = res.writableLength;
    if (pending > this.hardLimitBytes) {
      this.options.logger.warn({ event: 'sse-subscriber-dropped', pendingBytes: pending, skippedSnapshots: sub.skipped }, 'event stream subscriber too slow; disconnected');
      this.remove(sub);
      res.destroy();
      return;
    }
    if (droppable && pending > this.softLimitBytes) {
      sub.skipped++;
      return;
    }
    res.write(frame);
  }

  private remove(sub: Subscriber): void {
    this.subscribers.delete(sub);
    if (this.subscribers.size === 0) this.stopTimers();
  }

  private startTimers(): void {
    if (this.snapshotTimer) return;
    this.snapshotTimer = setInterval(() => {
      if (this.subscribers.size === 0) return;
      const frame = this.snapshotFrame();
      for (const sub of this.subscribers) this.send(sub, frame, true);
    }, this.snapshotIntervalMs);
    this.heartbeatTimer = setInterval(() => {
      for (const sub of this.subscribers) this.send(sub, ': heartbeat\n\n', true);
    }, this.heartbeatIntervalMs);
    // The timers only serve open connections; they must never keep the process alive by themselves.
    this.snapshotTimer.unref();
    this.heartbeatTimer.unref();
  }

  private stopTimers(): void {
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.snapshotTimer = null;
    this.heartbeatTimer = null;
  }
}
