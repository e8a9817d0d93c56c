import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { QueueSettings } from '../config/types';
import { GatewayError } from '../errors/gateway-error';
import type { CompiledRoute, RouteMatch } from '../routing/match';
import type { Preflight } from '../routing/preflight-probe';
import type { Clock } from '../core/clock';
import type { UpstreamRegistry } from '../upstreams/registry';
import { createDeliverer, type Deliverer } from './deliver';
import { idempotencyKeyOf, storedRequest } from './intake';
import { RedisStore } from './redis-store';
import { SqliteStore } from './sqlite-store';
import type { QueueStore } from './store';
import { messageView } from './views';
import { QueueWorker } from './worker';

export interface QueueDeps {
  settings: QueueSettings;
  /** Every compiled route; those with `delivery: queued` are served. */
  routes: readonly CompiledRoute[];
  registry: UpstreamRegistry;
  preflight: Preflight;
  clock: Clock;
  logger: Logger;
  /** Lease owner name: the gateway's instanceId. */
  owner: string;
  /** Defaults to the store `queue.store` names. */
  store?: QueueStore;
  deliverer?: Deliverer;
}

/** Answers a request with a problem (the traffic handler's own `fail`). */
type Fail = (req: IncomingMessage, res: ServerResponse, err: GatewayError) => void;

/** The store `queue.store` names. */
export function storeFor(settings: QueueSettings): QueueStore {
  return settings.store === 'redis' ? new RedisStore(settings.url ?? '', settings.prefix) : new SqliteStore(settings.path);
}

/**
 * Queued delivery as one part of the gateway (README "Queued delivery"): the intake that
 * commits a request and answers 202, GET /messages/{id}, the worker, and their lifecycle.
 * The traffic handler hands it queued routes' requests after the checks before pre-flight.
 */
export class Queue {
  readonly store: QueueStore;
  readonly worker: QueueWorker;
  readonly routes: readonly CompiledRoute[];
  private readonly deliverer: Deliverer;
  private closed = false;

  constructor(private readonly deps: QueueDeps) {
    this.routes = deps.routes.filter((r) => r.config.delivery === 'queued');
    this.store = deps.store ?? storeFor(deps.settings);
    this.deliverer = deps.deliverer ?? createDeliverer();
    this.worker = new QueueWorker({ ...deps, routes: this.routes, store: this.store, deliverer: this.deliverer });
  }

  /** Opens the store; deliveries start with `start()`. */
  async open(): Promise<void> {
    await this.store.open(this.routes.map((r) => r.path));
    const engine = (this.store as { engine?: string | null }).engine;
    this.deps.logger.info({ event: 'queue-open', store: this.store.kind, ...(engine ? { engine } : {}), routes: this.routes.map((r) => r.path) }, `queue store open (${this.store.kind})`);
  }

  start(): void {
    this.worker.start();
  }

  /** The route of a configured queued path, for the admin API. */
  route(path: string): CompiledRoute | undefined {
    return this.routes.find((r) => r.path === path);
  }

  /**
   * Commits the request, then answers 202 with its message (the same message again for the
   * same Idempotency-Key on the same route). Nothing is forwarded here.
   */
  accept(req: IncomingMessage, res: ServerResponse, requestId: string, match: RouteMatch, body: Buffer | undefined, fail: Fail): void {
    const route = match.route;
    const key = idempotencyKeyOf(req.headers);
    if (key === null) return fail(req, res, new GatewayError('INVALID_REQUEST', { upstream: route.upstream, detail: 'Idempotency-Key must be 1-255 visible ASCII characters.' }));
    const now = this.deps.clock.now();
    const message = {
      id: randomUUID(),
      route: route.path,
      idempotencyKey: key ?? null,
      request: storedRequest(req.method ?? 'POST', match.upstreamPath, req.headers, body ?? Buffer.alloc(0), route.config),
      createdAt: now,
      expiresAt: now + route.config.queue.ttlMs,
    };
    this.store.enqueue(message).then(
      ({ message: m, created }) => {
        if (created) this.worker.wake();
        if (res.destroyed) return;
        const payload = JSON.stringify({ id: m.id, status: m.status });
        res.writeHead(202, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(payload),
          Location: `/messages/${m.id}`,
          'Cache-Control': 'no-store',
          'X-Request-Id': requestId,
        });
        res.end(payload);
      },
      (err: unknown) => {
        this.deps.logger.error({ err, event: 'queue-store-error', requestId }, 'queue store refused a message');
        // Nothing reached an upstream, and with an Idempotency-Key a resend cannot make a second message.
        fail(req, res, new GatewayError('INTERNAL_ERROR', { cause: err, forwarded: false, upstream: route.upstream, detail: 'The queue could not store the message; nothing was forwarded. Send it again.', retryAfterSeconds: 1 }));
      },
    );
  }

  /** GET /messages/{id} on the traffic listener. */
  serveMessage(req: IncomingMessage, res: ServerResponse, id: string, requestId: string, fail: Fail): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return fail(req, res, new GatewayError('METHOD_NOT_ALLOWED', { detail: 'Messages are read with GET.', headers: { Allow: 'GET, HEAD' } }));
    }
    this.store.get(id).then(
      (m) => {
        if (!m) return fail(req, res, new GatewayError('ROUTE_NOT_FOUND', { detail: 'No message with this id.' }));
        const payload = JSON.stringify(messageView(m));
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), 'Cache-Control': 'no-store', 'X-Request-Id': requestId });
        res.end(req.method === 'HEAD' ? undefined : payload);
      },
      (err: unknown) => fail(req, res, new GatewayError('INTERNAL_ERROR', { cause: err, forwarded: false, detail: 'The queue store could not be read.', retryAfterSeconds: 1 })),
    );
  }

  /** Drain: no new deliveries; those in flight may finish until `deadline`. The store stays open for close(). */
  stop(deadline: number): Promise<void> {
    return this.worker.stop(deadline);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.stop(this.deps.clock.now());
    this.deliverer.close();
    await this.store.close();
  }
}
