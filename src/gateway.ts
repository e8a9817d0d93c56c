import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { AdminServer } from './admin/app';
import type { GatewayConfig } from './config/types';
import { Metrics } from './metrics/metrics';
import { registerQueueMetrics } from './metrics/queue-metrics';
import { CallerIdentity } from './proxy/caller-identity';
import { Queue } from './queue/queue';
import { TrustedProxies } from './proxy/forwarded-for';
import { RouteTable } from './routing/match';
import { Preflight } from './routing/preflight-probe';
import { systemClock, type Clock } from './core/clock';
import { ConnectionLimit, defaultMaxConnections } from './server/connection-limit';
import { createClientErrorHandler, createConnectHandler } from './server/client-error';
import { ClientIdentity } from './server/client-identity';
import { createLogger, createTrafficRequestLog } from './server/logging';
import { createOwnEndpoints, OWN_PATHS } from './server/own-endpoints';
import { createTrafficHandler, type RequestObserver, type TrafficHandler, type TrafficState } from './server/traffic';
import { TlsListener, type TlsReload } from './server/tls';
import { packageVersion } from './server/version';
import type { Instance } from './status/status';
import { HealthChecker } from './upstreams/health-checker';
import { UpstreamRegistry } from './upstreams/registry';

/** Listen overrides for `start()`; config values apply where absent. */
export interface StartOverrides {
  port?: number;
  host?: string;
  adminPort?: number;
  adminHost?: string;
}

function baseUrl(a: AddressInfo, tls: boolean): string {
  const host = a.family === 'IPv6' ? `[${a.address === '::' ? '::1' : a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address;
  return `${tls ? 'https' : 'http'}://${host}:${a.port}`;
}

const TRAFFIC_TLS = { listener: 'traffic', at: 'listen.tls' } as const;

/** What a gateway is built from; everything has a production default, tests pass their own. */
export interface GatewayDeps {
  logger?: Logger;
  clock?: Clock;
  /** Extra per-request observers (the gateway's own Metrics is always one). */
  observers?: RequestObserver[];
  /** Process metrics in /metrics (default true); tests that build many gateways may turn them off. */
  processMetrics?: boolean;
}

/**
 * A gateway built from a configuration: its upstreams, the traffic listener and its
 * lifecycle. Nothing listens until `start()`; `shutdown()` drains as SPEC §8 says.
 */
export class Gateway {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly registry: UpstreamRegistry;
  readonly instance: Instance;
  readonly state: TrafficState = { draining: false, inFlight: 0 };
  /** An https.Server when `listen.tls` is set. */
  readonly trafficServer: http.Server | https.Server;
  /** Prometheus metrics (own registry), served by the admin listener's GET /metrics. */
  readonly metrics: Metrics;
  /** The admin listener (SPEC §7): breakers API, event stream, /metrics, /dashboard. */
  readonly admin: AdminServer;
  /** One per upstream with a `healthCheck`; started by `start()`, stopped first by `close()`. */
  readonly healthCheckers: HealthChecker[];
  readonly preflight: Preflight;
  /** The traffic listener's TLS side, with `listen.tls`. */
  private readonly trafficTls: TlsListener | undefined;
  /** Queued delivery (store, worker, intake); null when no route has `delivery: queued`. */
  readonly queue: Queue | null;
  private readonly traffic: TrafficHandler;
  private started = false;
  private closed = false;

  constructor(
    readonly config: GatewayConfig,
    deps: GatewayDeps = {},
  ) {
    this.logger = deps.logger ?? createLogger(config.log.level);
    this.clock = deps.clock ?? systemClock;
    this.instance = { instanceId: randomUUID(), startedAt: this.clock.now(), version: packageVersion() };
    this.registry = new UpstreamRegistry(config.upstreams, this.clock);
    for (const u of this.registry.all()) {
      u.breaker.on('transition', (t) => {
        const log = t.to === 'open' ? this.logger.warn.bind(this.logger) : this.logger.info.bind(this.logger);
        log({ event: 'breaker-transition', upstream: t.name, from: t.from, to: t.to, reason: t.reason }, `breaker ${t.name}: ${t.from} → ${t.to} (${t.reason})`);
      });
    }
    this.healthCheckers = this.registry.all().filter((u) => u.config.healthCheck).flatMap((u) => u.targets.map((t) => new HealthChecker(t, { clock: this.clock, logger: this.logger })));
    this.preflight = new Preflight({ registry: this.registry, clock: this.clock });
    this.metrics = new Metrics({ register: new Registry(), registry: this.registry, state: this.state, ownPaths: OWN_PATHS, processMetrics: deps.processMetrics });
    const routes = new RouteTable(config.routes);
    this.queue = config.routes.some((r) => r.delivery === 'queued')
      ? new Queue({ settings: config.queue, routes: routes.all(), registry: this.registry, preflight: this.preflight, clock: this.clock, logger: this.logger, owner: this.instance.instanceId })
      : null;
    if (this.queue) registerQueueMetrics(this.metrics.register, this.queue);
    this.admin = new AdminServer({ token: config.admin.token, allowedHosts: config.admin.allowedHosts, registry: this.registry, clock: this.clock, logger: this.logger, metrics: this.metrics, tls: config.admin.tls, ...(this.queue ? { queue: this.queue } : {}) });
    const tls = config.listen.tls;
    const ownEndpoints = createOwnEndpoints({ registry: this.registry, routes: config.routes, instance: this.instance, state: this.state, isStarted: () => this.started });
    const connectionLimit = new ConnectionLimit(config.listen.maxConnections ?? defaultMaxConnections());
    const handler = createTrafficHandler({
      routes,
      ...(this.queue ? { queue: this.queue } : {}),
      registry: this.registry,
      clock: this.clock,
      logger: this.logger,
      callerIdentity: new CallerIdentity(new TrustedProxies(config.listen.trustedProxies), config.listen.untrustedHeaders),
      state: this.state,
      ownEndpoints,
      ownPaths: OWN_PATHS,
      observers: [this.metrics.observe, createTrafficRequestLog(this.logger), ...(deps.observers ?? [])],
      preflight: this.preflight,
      clientCert: tls?.requestCert ? { identity: new ClientIdentity(), header: tls.clientCertHeader } : undefined,
      sendTimeoutMs: config.listen.sendTimeoutMs,
      connectionLimit,
      relayObserver: this.metrics.relayObserver,
    });
    this.traffic = handler;
    const l = config.listen;
    const httpOptions: http.ServerOptions = {
      requestTimeout: l.requestTimeoutMs,
      headersTimeout: Math.min(l.headersTimeoutMs, l.requestTimeoutMs),
      keepAliveTimeout: l.keepAliveTimeoutMs,
      maxHeaderSize: l.maxHeaderBytes,
      // Node checks request deadlines on this interval (30 s by default); SPEC §5 wants them held within a second.
      connectionsCheckingInterval: 250,
      // Node would answer a missing Host with a bare 400; the traffic handler answers with a problem.
      requireHostHeader: false,
    };
    this.trafficTls = tls
      ? new TlsListener({ name: TRAFFIC_TLS, settings: tls, http: httpOptions, handshakeTimeoutMs: httpOptions.headersTimeout as number, logger: this.logger, countRefused: this.metrics.countRefused }, handler)
      : undefined;
    this.trafficServer = this.trafficTls?.server ?? http.createServer(httpOptions, handler);
    // Node keeps 2,000 request headers and drops the rest without a word; maxHeaderSize bounds them instead.
    this.trafficServer.maxHeadersCount = 0;
    connectionLimit.attach(this.trafficServer);
    this.trafficServer.on('clientError', createClientErrorHandler(this.logger, this.metrics.countRefused));
    this.trafficServer.on('connect', createConnectHandler(this.logger, this.metrics.countRefused));
    // An expectation other than 100-continue: Node would answer a bare 417. RFC 9110 §10.1.1
    // lets a server ignore it, and the request goes on like any other (Expect is never forwarded).
    this.trafficServer.on('checkExpectation', handler);
    // Expect: 100-continue: Node would send the go-ahead before the handler runs; the handler
    // sends it only once the request passed every check that needs no body (413, 404, 405, …).
    this.trafficServer.on('checkContinue', handler);
  }

  /** Starts listening (host/port from config unless overridden, e.g. port 0 in tests). */
  async start(overrides: StartOverrides = {}): Promise<AddressInfo> {
    const host = overrides.host ?? this.config.listen.host;
    const port = overrides.port ?? this.config.listen.port;
    // A traffic port of 0 (tests) puts the admin listener on a free port too, unless given:
    // parallel test files must never collide on the admin default 9090.
    const adminPort = overrides.adminPort ?? (overrides.port === 0 ? 0 : this.config.admin.port);
    // The store first: a 202 must never be answered before the queue can keep the message.
    await this.queue?.open();
    await this.admin.listen(adminPort, overrides.adminHost ?? this.config.admin.host);
    this.trafficServer.listen(port, host);
    await once(this.trafficServer, 'listening');
    for (const checker of this.healthCheckers) checker.start();
    this.queue?.start();
    this.started = true;
    const address = this.trafficServer.address() as AddressInfo;
    const tls = this.config.listen.tls;
    this.logger.info({
      event: 'listening', listener: 'traffic', host: address.address, port: address.port, instanceId: this.instance.instanceId,
      ...(tls && this.trafficTls ? { tls: { ...this.trafficTls.certificate, minVersion: tls.minVersion, requestCert: tls.requestCert } } : {}),
    }, 'traffic listener up');
    return address;
  }

  /**
   * SIGHUP: both listeners read their certificate files again; new connections get the new
   * certificates, open ones keep theirs. A listener whose new files are unusable keeps its
   * old certificate and says why in an error line. Returns what happened, per TLS listener.
   */
  reloadTls(): TlsReload[] {
    const outcomes: TlsReload[] = [];
    if (this.trafficTls) outcomes.push(this.trafficTls.reload());
    const admin = this.admin.reloadTls();
    if (admin) outcomes.push(admin);
    for (const o of outcomes) {
      if (o.ok) this.logger.info({ event: 'tls-reloaded', listener: o.listener, subject: o.subject, validTo: o.validTo, fingerprint256: o.fingerprint256 }, `${o.listener} listener: certificate reloaded`);
      else this.logger.error({ event: 'tls-reload-failed', listener: o.listener, issues: o.issues }, `${o.listener} listener: certificate not reloaded, the previous one stays: ${o.issues.join('; ')}`);
    }
    return outcomes;
  }

  /** Whether either listener speaks TLS (so that SIGHUP means "reload certificates"). */
  get hasTls(): boolean {
    return this.config.listen.tls !== undefined || this.config.admin.tls !== undefined;
  }

  /** Base URL of the traffic listener, for tests and tools (https:// with `listen.tls`). */
  get url(): string {
    return baseUrl(this.trafficServer.address() as AddressInfo, this.config.listen.tls !== undefined);
  }

  /** Base URL of the admin listener (SPEC §7), for tests and tools. */
  get adminUrl(): string {
    return baseUrl(this.admin.server.address() as AddressInfo, this.config.admin.tls !== undefined);
  }

  /**
   * SPEC §8 drain: /readyz turns 503, new requests get GATEWAY_SHUTTING_DOWN, idle
   * keep-alive sockets close, in-flight requests may finish until the drain deadline,
   * then everything is closed.
   */
  async shutdown(): Promise<void> {
    if (this.state.draining) return;
    this.state.draining = true;
    this.traffic.drain();
    // Operators keep the streams they have through the drain; new ones are refused (503).
    this.admin.events.stopAccepting();
    this.logger.info({ event: 'draining', inFlight: this.state.inFlight }, 'draining');
    this.trafficServer.closeIdleConnections();
    const deadline = this.clock.now() + this.config.shutdown.drainTimeoutMs;
    // Queued delivery drains beside the traffic: no new delivery starts, those in flight may
    // finish until the same deadline, and every other message stays in the store.
    const queueStopped = this.queue?.stop(deadline);
    while (this.state.inFlight > 0 && this.clock.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (this.state.inFlight > 0) this.logger.warn({ event: 'drain-timeout', inFlight: this.state.inFlight }, 'drain deadline passed; closing remaining connections');
    await queueStopped;
    await this.close();
  }

  /** Closes everything at once (no drain). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // No delivery may start or go on once the breakers and agents below are closed.
    const queueStopped = this.queue?.stop(this.clock.now());
    for (const checker of this.healthCheckers) checker.close();
    this.preflight.close();
    this.traffic.close();
    this.state.draining = true;
    const closing = this.trafficServer.listening ? new Promise<void>((r) => this.trafficServer.close(() => r())) : Promise.resolve();
    this.trafficServer.closeAllConnections();
    this.trafficTls?.destroyPending();
    // SSE streams never end by themselves: the admin listener ends them before it closes.
    const adminClosing = this.admin.close();
    this.metrics.close();
    this.traffic.close();
    this.registry.close();
    await Promise.all([closing, adminClosing, queueStopped]);
    // After the listeners: a request still being accepted must not find its store closed.
    await this.queue?.close();
    // The server's close callback can come before the 'close' events of the responses cut
    // above, and those write the requests' log lines and metrics (SPEC §9: one line per
    // request, an aborted one too): wait for them, briefly, before saying the gateway closed.
    // At most 200 × 5 ms, counted in turns rather than by the injected clock, which a test may hold still.
    for (let turn = 0; turn < 200 && this.state.inFlight > 0; turn++) await new Promise((r) => setTimeout(r, 5));
    this.logger.info({ event: 'closed' }, 'gateway closed');
  }
}
