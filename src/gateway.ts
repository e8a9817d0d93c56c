import { randomUUID } from 'node:crypto';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config/types';
import { TrustedProxies } from './proxy/forwarded-for';
import { RouteTable } from './routing/match';
import { systemClock, type Clock } from './server/clock';
import { createClientErrorHandler } from './server/client-error';
import { createLogger, createRequestLogger } from './server/logging';
import { createOwnEndpoints, OWN_PATHS } from './server/own-endpoints';
import { createTrafficHandler, type RequestObserver, type TrafficState } from './server/traffic';
import { packageVersion } from './server/version';
import type { Instance } from './status/status';
import { UpstreamRegistry } from './upstreams/registry';

/** What a gateway is built from; everything has a production default, tests pass their own. */
export interface GatewayDeps {
  logger?: Logger;
  clock?: Clock;
  /** Extra per-request observers (metrics attach here). */
  observers?: RequestObserver[];
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
  readonly trafficServer: Server;
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
    const ownEndpoints = createOwnEndpoints({ registry: this.registry, instance: this.instance, state: this.state, isStarted: () => this.started });
    const handler = createTrafficHandler({
      routes: new RouteTable(config.routes),
      registry: this.registry,
      clock: this.clock,
      logger: this.logger,
      requestLogger: createRequestLogger(this.logger),
      trustedProxies: new TrustedProxies(config.listen.trustedProxies),
      state: this.state,
      ownEndpoints,
      ownPaths: OWN_PATHS,
      observers: deps.observers ?? [],
    });
    const l = config.listen;
    this.trafficServer = http.createServer(
      {
        requestTimeout: l.requestTimeoutMs,
        headersTimeout: Math.min(l.headersTimeoutMs, l.requestTimeoutMs),
        keepAliveTimeout: l.keepAliveTimeoutMs,
        maxHeaderSize: l.maxHeaderBytes,
        // Node checks request deadlines on this interval (30 s by default); SPEC §5 wants them held within a second.
        connectionsCheckingInterval: 250,
      },
      handler,
    );
    this.trafficServer.on('clientError', createClientErrorHandler(this.logger));
  }

  /** Starts listening (host/port from config unless overridden, e.g. port 0 in tests). */
  async start(overrides: { port?: number; host?: string } = {}): Promise<AddressInfo> {
    const host = overrides.host ?? this.config.listen.host;
    const port = overrides.port ?? this.config.listen.port;
    this.trafficServer.listen(port, host);
    await once(this.trafficServer, 'listening');
    this.started = true;
    const address = this.trafficServer.address() as AddressInfo;
    this.logger.info({ event: 'listening', listener: 'traffic', host: address.address, port: address.port, instanceId: this.instance.instanceId }, 'traffic listener up');
    return address;
  }

  /** Base URL of the traffic listener, for tests and tools. */
  get url(): string {
    const a = this.trafficServer.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address === '::' ? '::1' : a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address;
    return `http://${host}:${a.port}`;
  }

  /**
   * SPEC §8 drain: /readyz turns 503, new requests get GATEWAY_SHUTTING_DOWN, idle
   * keep-alive sockets close, in-flight requests may finish until the drain deadline,
   * then everything is closed.
   */
  async shutdown(): Promise<void> {
    if (this.state.draining) return;
    this.state.draining = true;
    this.logger.info({ event: 'draining', inFlight: this.state.inFlight }, 'draining');
    this.trafficServer.closeIdleConnections();
    const deadline = this.clock.now() + this.config.shutdown.drainTimeoutMs;
    while (this.state.inFlight > 0 && this.clock.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (this.state.inFlight > 0) this.logger.warn({ event: 'drain-timeout', inFlight: this.state.inFlight }, 'drain deadline passed; closing remaining connections');
    await this.close();
  }

  /** Closes everything at once (no drain). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.state.draining = true;
    const closing = this.trafficServer.listening ? new Promise<void>((r) => this.trafficServer.close(() => r())) : Promise.resolve();
    this.trafficServer.closeAllConnections();
    this.registry.close();
    await closing;
    this.logger.info({ event: 'closed' }, 'gateway closed');
  }
}
