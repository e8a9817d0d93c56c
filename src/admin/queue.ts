import { Router, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/gateway-error';
import type { Queue } from '../queue/queue';
import { MESSAGE_STATUSES, type MessageStatus } from '../queue/store';
import { adminMessageView, queueSummary } from '../queue/views';
import type { Clock } from '../core/clock';

export interface QueueRoutesDeps {
  queue: Queue;
  clock: Clock;
  logger: Logger;
  /** False when no `admin.token` is configured: retry and delete are refused (403), as breaker actions are. */
  actionsEnabled: boolean;
}

const methodNotAllowed = (allow: string): RequestHandler => (_req, _res, next) =>
  next(new GatewayError('METHOD_NOT_ALLOWED', { detail: 'Method not allowed on this admin endpoint.', headers: { Allow: allow } }));

const notFound = (): GatewayError => new GatewayError('ROUTE_NOT_FOUND', { detail: 'No message with this id.' });

/**
 * The admin queue API (README "Queued delivery"): GET /admin/queue (counts by route and
 * status), GET /admin/queue/messages?status=&route=&limit=, and the actions POST
 * /admin/queue/messages/{id}/retry and DELETE /admin/queue/messages/{id}. Authorization as
 * for breaker actions: with a token, auth.ts ran first; without one, actions are 403.
 */
export function queueRoutes(deps: QueueRoutesDeps): Router {
  const { queue, clock } = deps;
  const router = Router();
  const forbidden = (): GatewayError => new GatewayError('FORBIDDEN', { detail: 'No admin token is configured (admin.token), so admin actions are disabled.' });

  router.get('/admin/queue', (_req, res, next) => {
    queue.store.counts().then((rows) => res.json(queueSummary(queue.store.kind, queue.routes, rows, clock.now())), next);
  });

  router.get('/admin/queue/messages', (req, res, next) => {
    const { status, route, limit } = req.query;
    if (status !== undefined && !(typeof status === 'string' && (MESSAGE_STATUSES as readonly string[]).includes(status))) {
      return next(new GatewayError('INVALID_REQUEST', { detail: `status must be one of ${MESSAGE_STATUSES.join(', ')}.` }));
    }
    if (route !== undefined && (typeof route !== 'string' || !queue.route(route))) {
      return next(new GatewayError('INVALID_REQUEST', { detail: 'route must be the path of a queued route.' }));
    }
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) return next(new GatewayError('INVALID_REQUEST', { detail: 'limit must be an integer from 1 to 1000.' }));
    queue.store
      .list({ ...(status ? { status: status as MessageStatus } : {}), ...(route ? { route: route as string } : {}), limit: n })
      .then((messages) => res.json({ messages: messages.map(adminMessageView) }), next);
  });

  router.post('/admin/queue/messages/:id/retry', (req, res, next) => {
    if (!deps.actionsEnabled) return next(forbidden());
    const id = req.params.id as string;
    void (async () => {
      const m = await queue.store.get(id);
      if (!m) return next(notFound());
      if (m.status !== 'dead' && m.status !== 'rejected') {
        return next(new GatewayError('INVALID_REQUEST', { detail: `Only dead or rejected messages can be retried; this one is ${m.status}.` }));
      }
      const route = queue.route(m.route);
      const now = clock.now();
      const retried = await queue.store.retry(id, now, now + (route?.config.queue.ttlMs ?? 86400000));
      if (!retried) return next(notFound());
      deps.logger.warn({ event: 'queue-retry', id, route: m.route, by: `POST /admin/queue/messages/${id}/retry` }, `operator retry of queued message ${id}`);
      queue.worker.wake();
      res.json(adminMessageView(retried));
    })().catch(next);
  });

  router.delete('/admin/queue/messages/:id', (req, res, next) => {
    if (!deps.actionsEnabled) return next(forbidden());
    const id = req.params.id as string;
    queue.store.remove(id).then((removed) => {
      if (!removed) return next(notFound());
      deps.logger.warn({ event: 'queue-delete', id, by: `DELETE /admin/queue/messages/${id}` }, `operator deleted queued message ${id}`);
      res.status(204).end();
    }, next);
  });

  router.all(['/admin/queue', '/admin/queue/messages'], methodNotAllowed('GET, HEAD'));
  router.all('/admin/queue/messages/:id/retry', methodNotAllowed('POST'));
  router.all('/admin/queue/messages/:id', methodNotAllowed('DELETE'));
  return router;
}
