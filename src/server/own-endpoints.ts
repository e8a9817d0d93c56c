import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import type { RouteConfig } from '../config/types';
import { computeStatus, type Instance } from '../status/status';
import type { UpstreamRegistry } from '../upstreams/registry';
import { problemErrorHandler } from './express-errors';
import type { TrafficState } from './traffic';

/** Paths the traffic listener answers itself (SPEC §6); they win over configured routes. */
export const OWN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/status']);

export interface OwnEndpointDeps {
  registry: UpstreamRegistry;
  /** The configured routes, so `/status` can tell `degraded` from `down` (nothing servable). */
  routes?: readonly RouteConfig[];
  instance: Instance;
  state: TrafficState;
  /** False until the listener is up and health checks have been started. */
  isStarted: () => boolean;
}

/** The traffic listener's own endpoints, on Express. */
export function createOwnEndpoints(deps: OwnEndpointDeps): Express & ((req: IncomingMessage, res: ServerResponse) => void) {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const noStore = (_req: express.Request, res: express.Response, next: express.NextFunction): void => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  };
  app.use(noStore);

  app.get('/healthz', (_req, res) => {
    res.json({
      status: 'ok',
      instanceId: deps.instance.instanceId,
      startedAt: new Date(deps.instance.startedAt).toISOString(),
      version: deps.instance.version,
    });
  });

  app.get('/readyz', (_req, res) => {
    const ready = deps.isStarted() && !deps.state.draining;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : deps.state.draining ? 'draining' : 'starting' });
  });

  app.get('/status', (_req, res) => {
    res.json(computeStatus(deps.registry, deps.instance, deps.state.draining, deps.routes));
  });

  // A middleware, not app.all(/.*/): no pattern runs over the caller's path.
  app.use((_req, _res, next) => {
    next(Object.assign(new Error('method not allowed'), { status: 405, allow: 'GET, HEAD' }));
  });
  app.use(problemErrorHandler());
  return app as Express & ((req: IncomingMessage, res: ServerResponse) => void);
}
