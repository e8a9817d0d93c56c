import http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { createRequestLogger } from '../server/logging';
import { GatewayError, isGatewayError } from '../errors/gateway-error';
import type { Metrics } from '../metrics/metrics';
import type { TlsSettings } from '../config/types';
import { ClientIdentity } from '../server/client-identity';
import type { Clock } from '../core/clock';
import { createClientErrorHandler, createConnectHandler } from '../server/client-error';
import { hostHeaderProblem } from '../server/host-header';
import { problemErrorHandler } from '../server/express-errors';
import { RequestContext, setContext } from '../server/request-context';
import { requestIdOf } from '../server/request-id';
import { TlsListener, type TlsReload } from '../server/tls';
import type { UpstreamRegistry } from '../upstreams/registry';
import { AllowedHosts } from './allowed-hosts';
import { adminAuth } from './auth';
import { breakerRoutes, isBreakerAction } from './breakers';
import { dashboardRoutes, isDashboardPath } from './dashboard';
import { EventStream, type EventStreamOptions } from './event-stream';
import type { Queue } from '../queue/queue';
import { queueRoutes } from './queue';

export interface AdminAppDeps {
  /** `admin.token`; empty means reads are open and actions are forbidden. */
  token: string;
  registry: UpstreamRegistry;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  events: EventStream;
  /** `admin.allowedHosts`: Host names answered besides the listener's own address and localhost. */
  allowedHosts: readonly string[];
  /** With `admin.tls.requestCert`: every request needs a verified client certificate. */
  identity?: ClientIdentity;
  /** Queued delivery, when configured: the admin queue API. */
  queue?: Queue;
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
  const hosts = new AllowedHosts(deps.allowedHosts);
  app.use((req, res, next) => {
    const requestId = requestIdOf(req);
    const ctx = new RequestContext(requestId, performance.now());
    setContext(req, ctx);
    const cert = deps.identity?.of(req);
    if (cert) ctx.clientCert = cert.verified ? cert.subject : null;
    requestLog(req, res);
    res.setHeader('X-Request-Id', requestId);
    res.setHeader('Cache-Control', 'no-store');
    const badHost = hostHeaderProblem(req);
    if (badHost) return next(new GatewayError('INVALID_REQUEST', { detail: `Invalid request: ${badHost}.` }));
    if (!hosts.allows(req.headers.host, req.socket.localAddress)) {
      return next(new GatewayError('FORBIDDEN', { detail: 'This admin listener answers only requests addressed to its own address, localhost, or a name in admin.allowedHosts.' }));
    }
    // mTLS on the admin listener guards everything it serves, the dashboard page included.
    if (cert && !cert.verified) return next(new GatewayError('CLIENT_CERT_REQUIRED', { detail: `The admin listener needs a verified TLS client certificate, and ${cert.reason}.` }));
    next();
  });

  app.get('/', (_req, res) => res.redirect(302, '/dashboard'));
  app.use(dashboardRoutes());
  app.all(/^\/dashboard(\/.*)?$/, (req, res, next) => (isDashboardPath(req.path) ? methodNotAllowed('GET, HEAD')(req, res, next) : next()));

  app.use(adminAuth(deps.token));
  app.get('/admin/breakers/stream', (req, res, next) => deps.events.handle(req, res, next));
  app.use(breakerRoutes({ registry: deps.registry, clock: deps.clock, logger: deps.logger, actionsEnabled: deps.token !== '' }));
  // Without queued routes there is no queue to count: an empty summary, so that a client need not tell a 404 from a fault.
  if (deps.queue) app.use(queueRoutes({ queue: deps.queue, clock: deps.clock, logger: deps.logger, actionsEnabled: deps.token !== '' }));
  else app.get('/admin/queue', (_req, res) => void res.json({ store: null, generatedAt: new Date(deps.clock.now()).toISOString(), routes: {} }));
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
  /** `admin.allowedHosts` (default none besides the listener's own address and localhost). */
  allowedHosts?: readonly string[];
  queue?: Queue;
  /** Event stream tuning (intervals, slow-subscriber limits); defaults suit production. */
  stream?: Partial<Omit<EventStreamOptions, 'registry' | 'clock' | 'logger'>>;
  /** `admin.tls`: HTTPS instead of HTTP. */
  tls?: TlsSettings;
}

const ADMIN_TLS = { listener: 'admin', at: 'admin.tls' } as const;

/** The admin listener: its own http.Server, the event stream, and their lifecycle. */
export class AdminServer {
  readonly server: http.Server | https.Server;
  readonly events: EventStream;
  private readonly tls: TlsListener | undefined;
  private closing: Promise<void> | null = null;

  constructor(private readonly deps: AdminServerDeps) {
    this.events = new EventStream({ registry: deps.registry, clock: deps.clock, logger: deps.logger, ...(deps.queue ? { queue: deps.queue.worker } : {}), ...deps.stream });
    const identity = deps.tls?.requestCert ? new ClientIdentity() : undefined;
    const app = createAdminApp({ ...deps, allowedHosts: deps.allowedHosts ?? [], events: this.events, identity });
    // Host is checked by the app (server/host-header.ts), so a bad one gets a problem, not Node's bare 400.
    const options: http.ServerOptions = { requestTimeout: 30000, headersTimeout: 10000, keepAliveTimeout: 5000, maxHeaderSize: 16384, requireHostHeader: false };
    this.tls = deps.tls ? new TlsListener({ name: ADMIN_TLS, settings: deps.tls, http: options, handshakeTimeoutMs: 10000, logger: deps.logger }, app) : undefined;
    this.server = this.tls?.server ?? http.createServer(options, app);
    // Node keeps 2,000 headers and drops the rest without a word; maxHeaderSize bounds them instead.
    this.server.maxHeadersCount = 0;
    this.server.on('clientError', createClientErrorHandler(deps.logger));
    this.server.on('connect', createConnectHandler(deps.logger));
    // As on the traffic listener: an unknown expectation is ignored, not a bare 417.
    this.server.on('checkExpectation', app);
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    const address = this.server.address() as AddressInfo;
    this.deps.logger.info({ event: 'listening', listener: 'admin', host: address.address, port: address.port, auth: this.deps.token !== '', ...(this.tls && this.deps.tls ? { tls: { ...this.tls.certificate, minVersion: this.deps.tls.minVersion, requestCert: this.deps.tls.requestCert } } : {}) }, 'admin listener up');
    return address;
  }

  /** SIGHUP: new certificate files for new connections; undefined when the listener has no TLS. */
  reloadTls(): TlsReload | undefined {
    return this.tls?.reload();
  }

  /** Ends the event streams first (they never end by themselves), then closes every connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const listening = this.server.listening;
      const closed = listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : Promise.resolve();
      await this.events.close();
      this.server.closeAllConnections();
      this.tls?.destroyPending();
      await closed;
    })();
    return this.closing;
  }
}
