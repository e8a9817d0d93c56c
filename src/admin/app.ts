import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { createRequestLogger } from '../server/logging';
import { GatewayError, isGatewayError } from '../errors/gateway-error';
import type { Metrics } from '../metrics/metrics';
import type { Clock } from '../core/clock';
import { createClientErrorHandler, createConnectHandler } from '../server/client-error';
import { hostHeaderProblem } from '../server/host-header';
import { problemErrorHandler } from '../server/express-errors';
import { RequestContext, setContext } from '../server/request-context';
import { requestIdOf } from '../server/request-id';
import type { UpstreamRegistry } from '../upstreams/registry';
import { adminAuth } from './auth';
import { breakerRoutes, isBreakerAction } from './breakers';
import { dashboardRoutes, isDashboardPath } from './dashboard';
import { EventStream, type EventStreamOptions } from './event-stream';

export interface AdminAppDeps {
  /** `admin.token`; empty means reads are open and actions are forbidden. */
  token: string;
  registry: UpstreamRegistry;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  events: EventStream;
}

const methodNotAllowed = (allow: string): RequestHandler => (_req, _res, next) =>
  next(new GatewayError('METHOD_NOT_ALLOWED', { detail: 'Method not allowed on this admin endpoint.', headers: { Allow: allow } }));

/**
 * The admin listener's app (SPEC §7): dashboard page (no auth, see dashboard.ts), then
 * authorization, then the breakers API, its event stream and /metrics. Every failure leaves
 * as a problem from the catalog. Nothing here is mounted on the traffic listener.
 */
export function createAdminApp(deps: AdminAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const requestLog = createRequestLogger(deps.logger);
  app.use((req, res, next) => {
    const requestId = requestIdOf(req);
    setContext(req, new RequestContext(requestId, performance.now()));
    requestLog(req, res);
    res.setHeader('X-Request-Id', requestId);
    res.setHeader('Cache-Control', 'no-store');
    const badHost = hostHeaderProblem(req);
    next(badHost ? new GatewayError('INVALID_REQUEST', { detail: `Invalid request: ${badHost}.` }) : undefined);
  });

  app.get('/', (_req, res) => res.redirect(302, '/dashboard'));
  app.use(dashboardRoutes());
  app.all(/^\/dashboard(\/.*)?$/, (req, res, next) => (isDashboardPath(req.path) ? methodNotAllowed('GET, HEAD')(req, res, next) : next()));

  app.use(adminAuth(deps.token));
  app.get('/admin/breakers/stream', (req, res, next) => deps.events.handle(req, res, next));
  app.use(breakerRoutes({ registry: deps.registry, clock: deps.clock, logger: deps.logger, actionsEnabled: deps.token !== '' }));
  app.get('/metrics', (_req, res, next) => {
    deps.metrics.text().then(({ contentType, body }) => {
      res.setHeader('Content-Type', contentType);
      res.end(body);
    }, next);
  });
  app.all(['/admin/breakers', '/admin/breakers/stream', '/metrics'], methodNotAllowed('GET, HEAD'));
  app.all(['/admin/breakers/:name/:action', '/admin/breakers/:name/targets/:target/:action'], (req, res, next) =>
    isBreakerAction(req.params.action as string) ? methodNotAllowed('POST')(req, res, next) : next());
  app.use((_req, _res, next) => next(new GatewayError('ROUTE_NOT_FOUND', { detail: 'No admin endpoint at this path.' })));

  const logBugs: ErrorRequestHandler = (err, _req, _res, next) => {
    const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    if (!isGatewayError(err) && (status === undefined || status >= 500)) deps.logger.error({ err }, 'admin listener: internal error');
    next(err);
  };
  app.use(logBugs);
  app.use(problemErrorHandler());
  return app;
}

export interface AdminServerDeps {
  token: string;
  registry: UpstreamRegistry;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Event stream tuning (intervals, slow-subscriber limits); defaults suit production. */
  stream?: Partial<Omit<EventStreamOptions, 'registry' | 'clock' | 'logger'>>;
}

/** The admin listener: its own http.Server, the event stream, and their lifecycle. */
export class AdminServer {
  readonly server: Server;
  readonly events: EventStream;
  private closing: Promise<void> | null = null;

  constructor(private readonly deps: AdminServerDeps) {
    this.events = new EventStream({ registry: deps.registry, clock: deps.clock, logger: deps.logger, ...deps.stream });
    const app = createAdminApp({ ...deps, events: this.events });
    // Host is checked by the app (server/host-header.ts), so a bad one gets a problem, not Node's bare 400.
    this.server = http.createServer({ requestTimeout: 30000, headersTimeout: 10000, keepAliveTimeout: 5000, maxHeaderSize: 16384, requireHostHeader: false }, app);
    this.server.on('clientError', createClientErrorHandler(deps.logger));
    this.server.on('connect', createConnectHandler(deps.logger));
    // As on the traffic listener: an unknown expectation is ignored, not a bare 417.
    this.server.on('checkExpectation', app);
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    const address = this.server.address() as AddressInfo;
    this.deps.logger.info({ event: 'listening', listener: 'admin', host: address.address, port: address.port, auth: this.deps.token !== '' }, 'admin listener up');
    return address;
  }

  /** Ends the event streams first (they never end by themselves), then closes every connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const listening = this.server.listening;
      const closed = listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : Promise.resolve();
      await this.events.close();
      this.server.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }
}
