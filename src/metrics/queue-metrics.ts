import { Counter, Gauge, type Registry } from 'prom-client';
import type { Queue } from '../queue/queue';
import { MESSAGE_STATUSES } from '../queue/store';

/**
 * Queued delivery's metrics: `breakwater_queue_messages{route,status}` (depth),
 * `breakwater_queue_oldest_message_age_seconds{route}` (oldest queued or delivering one),
 * read from the store at scrape time, and `breakwater_queue_deliveries_total{route,upstream,outcome}`
 * from the worker's events. Labels are configured routes and fixed sets only.
 */
export function registerQueueMetrics(register: Registry, queue: Queue): () => void {
  let rows: Awaited<ReturnType<Queue['store']['counts']>> | null = null;
  /** One store read per scrape for both gauges. */
  let reading: Promise<void> | null = null;
  const read = (): Promise<void> => (reading ??= queue.store.counts().then((r) => {
    rows = r;
  }, () => {
    rows = null;
  }).finally(() => setImmediate(() => (reading = null))));
  new Gauge({
    name: 'breakwater_queue_messages',
    help: 'Queued-delivery messages in the store by route and status.',
    labelNames: ['route', 'status'],
    registers: [register],
    async collect() {
      await read();
      for (const route of queue.routes) {
        for (const status of MESSAGE_STATUSES) this.set({ route: route.path, status }, rows?.find((r) => r.route === route.path && r.status === status)?.count ?? 0);
      }
    },
  });
  new Gauge({
    name: 'breakwater_queue_oldest_message_age_seconds',
    help: 'Age of the oldest queued or delivering message per route (0 when there is none).',
    labelNames: ['route'],
    registers: [register],
    async collect() {
      await read();
      const now = Date.now();
      for (const route of queue.routes) {
        const oldest = (rows ?? []).filter((r) => r.route === route.path && (r.status === 'queued' || r.status === 'delivering') && r.oldestCreatedAt !== null)
          .reduce((min, r) => Math.min(min, r.oldestCreatedAt as number), Infinity);
        this.set({ route: route.path }, Number.isFinite(oldest) ? Math.max(0, (now - oldest) / 1000) : 0);
      }
    },
  });
  const deliveries = new Counter({
    name: 'breakwater_queue_deliveries_total',
    help: 'Ends of a queued message\'s turn by route, upstream and outcome (delivered, rejected, retry, dead, refused, waiting, lost).',
    labelNames: ['route', 'upstream', 'outcome'],
    registers: [register],
  });
  const onOutcome = (o: { route: string; upstream: string; result: string }): void => deliveries.inc({ route: o.route, upstream: o.upstream, outcome: o.result });
  queue.worker.on('outcome', onOutcome);
  return () => queue.worker.off('outcome', onOutcome);
}
