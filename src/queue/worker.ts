import { EventEmitter, setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { QueueSettings } from '../config/types';
import type { CompiledRoute } from '../routing/match';
import { preflightSet } from '../routing/preflight';
import type { Preflight } from '../routing/preflight-probe';
import type { Clock } from '../core/clock';
import type { UpstreamRegistry } from '../upstreams/registry';
import type { Deliverer, DeliveryOutcome } from './deliver';
import type { Claimed, LastProblem, QueueMessage, QueueStore, Settlement } from './store';

/** How each delivery attempt (or claim) ended, for metrics and logs. */
export type DeliveryResult = 'delivered' | 'rejected' | 'retry' | 'dead' | 'refused' | 'waiting' | 'lost';

interface WorkerEvents {
  /** A message became dead (attempts or ttl used up). */
  dead: [QueueMessage];
  /** One claimed message's turn ended. */
  outcome: [{ route: string; upstream: string; result: DeliveryResult }];
}

export interface WorkerDeps {
  store: QueueStore;
  registry: UpstreamRegistry;
  preflight: Preflight;
  /** The routes with `delivery: queued`. */
  routes: readonly CompiledRoute[];
  settings: QueueSettings;
  deliverer: Deliverer;
  clock: Clock;
  logger: Logger;
  /** This process's name on the queue (lease owner): the gateway's instanceId. */
  owner: string;
  /** [0, 1); tests may pin the jitter. */
  random?: () => number;
}

/** How often queued messages past their ttl are looked for. */
const EXPIRE_EVERY_MS = 1000;
/** How often delivered and rejected messages past `queue.retentionMs` are deleted. */
const PURGE_EVERY_MS = 60000;

/**
 * Delivers queued messages (README "Queued delivery"). Each tick, for each queued route in
 * turn: pre-flight first (its upstream and every `requires` available); a route that fails it
 * is not read at all, so its messages wait without spending an attempt. Otherwise up to the
 * free share of `queue.concurrency` of its due messages are claimed, oldest first, and each
 * gets one attempt through its upstream's breaker (deliver.ts). A claim is a lease, renewed
 * while the attempt runs; the outcome is recorded and the lease let go in one store call.
 *
 * The worker wakes on its poll interval, when a message is accepted, when a delivery ends and
 * when any breaker changes state (an upstream coming back).
 */
export class QueueWorker extends EventEmitter<WorkerEvents> {
  private readonly running = new Set<Promise<void>>();
  private readonly aborter = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private again = false;
  private stopped = false;
  private lastExpire = 0;
  private lastPurge = 0;
  /** Rotates which route is looked at first, so one busy route cannot starve the others. */
  private turn = 0;
  private readonly detach: (() => void)[] = [];
  private readonly random: () => number;

  constructor(private readonly deps: WorkerDeps) {
    super();
    this.random = deps.random ?? Math.random;
    // Every delivery in flight listens on the one drain signal.
    setMaxListeners(deps.settings.concurrency + 10, this.aborter.signal);
    for (const u of deps.registry.all()) {
      const onTransition = (): void => this.wake();
      u.breaker.on('transition', onTransition);
      this.detach.push(() => u.breaker.off('transition', onTransition));
    }
  }

  /** Deliveries in flight right now. */
  get inFlight(): number {
    return this.running.size;
  }

  start(): void {
    this.wake();
  }

  /** Look for work now (a message was accepted, a system came back). */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.tick();
  }

  /**
   * Drain: no new delivery starts; those in flight may finish until `deadline` (clock ms);
   * any still running then are cut and stay held in the store, to be delivered again after
   * the restart (or, with Redis, by another replica once the lease runs out).
   */
  async stop(deadline: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const d of this.detach) d();
    this.detach.length = 0;
    while (this.running.size > 0 && this.deps.clock.now() < deadline) {
      const left = deadline - this.deps.clock.now();
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.race(this.running), new Promise((r) => (t = setTimeout(r, Math.max(1, left))))]);
      clearTimeout(t);
    }
    if (this.running.size > 0) {
      this.deps.logger.warn({ event: 'queue-drain-timeout', inFlight: this.running.size }, 'drain deadline passed; cutting deliveries in flight (they stay in the queue)');
      this.aborter.abort();
      await Promise.allSettled([...this.running]);
    }
  }

  private async tick(): Promise<void> {
    this.ticking = true;
    try {
      const now = this.deps.clock.now();
      if (now - this.lastExpire >= EXPIRE_EVERY_MS) {
        this.lastExpire = now;
        for (const m of await this.deps.store.expire(now)) this.died(m);
      }
      if (now - this.lastPurge >= PURGE_EVERY_MS) {
        this.lastPurge = now;
        await this.deps.store.purge(now - this.deps.settings.retentionMs);
      }
      const routes = this.deps.routes;
      for (let i = 0; i < routes.length && !this.stopped; i++) {
        const free = this.deps.settings.concurrency - this.running.size;
        if (free <= 0) break;
        const route = routes[(this.turn + i) % routes.length] as CompiledRoute;
        if (!(await this.systemsAvailable(route))) continue;
        const claimed = await this.deps.store.claim(route.path, this.deps.owner, free, this.deps.clock.now(), this.deps.settings.leaseMs);
        for (const c of claimed) this.track(this.deliver(route, c));
      }
      this.turn++;
    } catch (err) {
      this.deps.logger.error({ err, event: 'queue-worker-error' }, 'queue worker: store call failed; trying again');
    } finally {
      this.ticking = false;
    }
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      setImmediate(() => this.wake());
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.wake();
    }, this.deps.settings.pollIntervalMs);
    this.timer.unref?.();
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => {
      this.running.delete(p);
      this.wake();
    });
  }

  /** Pre-flight for delivery: the route's own upstream and every `requires` available (probing live with `preflight: probe`). */
  private async systemsAvailable(route: CompiledRoute): Promise<boolean> {
    const { registry } = this.deps;
    for (const name of preflightSet(route)) if (!registry.isAvailable(registry.get(name))) return false;
    if (route.config.preflight !== 'probe') return true;
    return (await this.deps.preflight.check(route)) === null;
  }

  private async deliver(route: CompiledRoute, c: Claimed): Promise<void> {
    const { store, clock, settings, owner, logger } = this.deps;
    const m = c.message;
    const upstream = this.deps.registry.get(route.upstream);
    const renewal = setInterval(() => {
      void store.renew(c, owner, clock.now(), settings.leaseMs).then((held) => {
        if (!held) logger.warn({ event: 'queue-lease-lost', id: m.id, route: m.route }, 'queued message: lease lost while delivering');
      }, () => {});
    }, Math.max(250, Math.floor(settings.leaseMs / 3)));
    renewal.unref?.();
    let result: DeliveryResult;
    try {
      const now = clock.now();
      let settlement: Settlement;
      if (now >= m.expiresAt) {
        settlement = { status: 'dead', attempts: m.attempts, response: m.response, lastProblem: { code: 'TTL_EXPIRED', detail: `The message was not delivered within its route's ttlMs (${m.attempts} attempts).`, at: now } };
        result = 'dead';
      } else if (!(await this.systemsAvailable(route))) {
        // A system went away between claim and attempt: back to the queue, no attempt spent.
        settlement = { status: 'queued', attempts: m.attempts, nextAttemptAt: now + settings.pollIntervalMs, lastProblem: m.lastProblem };
        result = 'waiting';
      } else {
        const outcome = await this.deps.deliverer.deliverOnce(m, upstream, this.aborter.signal);
        if (outcome.kind === 'aborted') return; // the drain cut it: it stays held, and is delivered again
        [settlement, result] = this.judge(route, m, outcome);
      }
      const recorded = await store.settle(c, owner, settlement, clock.now());
      if (!recorded) {
        result = 'lost';
        logger.warn({ event: 'queue-lease-lost', id: m.id, route: m.route }, 'queued message: outcome not recorded (lease lost or message deleted)');
      } else if (settlement.status === 'dead') {
        const dead = await store.get(m.id);
        if (dead) this.died(dead);
      }
      logger.info({ event: 'queue-delivery', id: m.id, route: m.route, upstream: upstream.name, result, attempts: settlement.attempts, status: settlement.status === 'queued' ? undefined : settlement.response?.status }, `queued message ${m.id}: ${result}`);
      this.emit('outcome', { route: m.route, upstream: upstream.name, result });
    } catch (err) {
      logger.error({ err, event: 'queue-worker-error', id: m.id }, 'queued message: store call failed; the lease will run out and it is delivered again');
    } finally {
      clearInterval(renewal);
    }
  }

  /** SPEC outcome rules: 2xx-4xx end it (except 408, 429); failures and failureStatuses are tried again. */
  private judge(route: CompiledRoute, m: QueueMessage, o: Exclude<DeliveryOutcome, { kind: 'aborted' }>): [Settlement, DeliveryResult] {
    const now = this.deps.clock.now();
    if (o.kind === 'refused') {
      const at = Math.max(o.retryAtMs ?? now + 1000, now + this.deps.settings.pollIntervalMs);
      return [{ status: 'queued', attempts: m.attempts, nextAttemptAt: at, lastProblem: { code: 'CIRCUIT_OPEN', detail: o.detail, at: now } }, 'refused'];
    }
    const attempts = m.attempts + 1;
    const upstream = this.deps.registry.get(route.upstream);
    let lastProblem: LastProblem;
    let retryAfter: number | null = null;
    if (o.kind === 'answer') {
      const status = o.response.status;
      const again = status === 408 || status === 429 || upstream.config.failureStatuses.includes(status);
      if (!again) {
        return [{ status: status < 400 ? 'delivered' : 'rejected', attempts, response: o.response, lastProblem: null }, status < 400 ? 'delivered' : 'rejected'];
      }
      lastProblem = { code: 'UPSTREAM_ANSWER', status, detail: `Upstream "${upstream.name}" answered ${status}.`, at: now };
      retryAfter = o.retryAfterMs;
      if (attempts >= route.config.queue.maxAttempts) return [{ status: 'dead', attempts, response: o.response, lastProblem }, 'dead'];
    } else {
      lastProblem = { code: o.code, detail: o.detail, at: now };
      if (attempts >= route.config.queue.maxAttempts) return [{ status: 'dead', attempts, response: null, lastProblem }, 'dead'];
    }
    const wait = Math.max(backoffMs(attempts, route.config.queue.initialBackoffMs, route.config.queue.maxBackoffMs, this.random), retryAfter ?? 0);
    return [{ status: 'queued', attempts, nextAttemptAt: now + wait, lastProblem }, 'retry'];
  }

  private died(m: QueueMessage): void {
    this.deps.logger.warn({ event: 'queue-dead', id: m.id, route: m.route, attempts: m.attempts, lastProblem: m.lastProblem }, `queued message ${m.id} is dead`);
    this.emit('dead', m);
  }
}

/**
 * Exponential backoff with "equal jitter": after attempt n, between half and all of
 * min(max, initial × 2^(n-1)). Half is fixed so that retries never bunch up at zero;
 * the random half spreads a backlog's retries after an outage.
 */
export function backoffMs(attempt: number, initial: number, max: number, random: () => number = Math.random): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
