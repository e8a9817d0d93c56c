import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { HttpLogger } from 'pino-http';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/gateway-error';
import { sendProblem } from '../errors/problem';
import type { TrustedProxies } from '../proxy/forwarded-for';
import { checkPreflight, retryAfterSeconds } from '../routing/preflight';
import { unsafePathReason } from '../routing/path-safety';
import type { RouteMatch, RouteTable } from '../routing/match';
import { BreakerRejection, CountedFailure, IgnoredOutcome } from '../upstreams/breaker';
import type { UpstreamRegistry } from '../upstreams/registry';
import type { Clock } from './clock';
import { contextOf, setContext, type RequestContext } from './request-context';
import { requestIdOf } from './request-id';

/** Called once per request when its response is over (finished or aborted). */
export type RequestObserver = (ctx: RequestContext, req: IncomingMessage, res: ServerResponse) => void;

/** Shared, mutable run state of the traffic listener. */
export interface TrafficState {
  draining: boolean;
  /** Requests whose response is not over yet. */
  inFlight: number;
}

export interface TrafficDeps {
  routes: RouteTable;
  registry: UpstreamRegistry;
  clock: Clock;
  logger: Logger;
  requestLogger: HttpLogger<IncomingMessage, ServerResponse>;
  trustedProxies: TrustedProxies;
  state: TrafficState;
  /** The gateway's own endpoints (/healthz, /readyz, /status), served by Express. */
  ownEndpoints: (req: IncomingMessage, res: ServerResponse) => void;
  ownPaths: ReadonlySet<string>;
  observers: readonly RequestObserver[];
}

/**
 * The traffic listener's request handler. Proxied requests take this lean path (match on
 * the raw request, then straight to the forwarder) because Express adds ~90 µs of CPU per
 * request; only the gateway's own endpoints go through Express.
 * Flow (SPEC §5): match route → reject bad path/method/size → pre-flight → breaker (with its
 * concurrency limit) → forward.
 */
export function createTrafficHandler(deps: TrafficDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { routes, registry, clock, state, observers } = deps;

  function fail(req: IncomingMessage, res: ServerResponse, err: GatewayError): void {
    const ctx = contextOf(req);
    if (ctx) ctx.code = err.code;
    // An unread body would have to be drained to reuse the connection; closing is cheaper and safer.
    if (!req.complete) res.shouldKeepAlive = false;
    if (err.code === 'INTERNAL_ERROR') deps.logger.error({ err: err.options.cause ?? err, requestId: ctx?.requestId }, 'internal error');
    sendProblem(res, err, req, ctx?.requestId ?? '');
  }

  function onDone(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    state.inFlight--;
    for (const observe of observers) observe(ctx, req, res);
  }

  function forward(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, match: RouteMatch, body?: Buffer): void {
    const { route } = match;
    const refusal = checkPreflight(route, registry, clock);
    if (refusal) return fail(req, res, refusal);
    const upstream = registry.get(route.upstream);
    ctx.breaker = upstream.breaker.state().value;
    req.url = match.upstreamPath;
    setForwardedHeaders(req, deps.trustedProxies);
    req.headers['x-request-id'] = ctx.requestId;
    upstream.breaker
      .run(() => upstream.forwarder.forward({ req, res, body, fail: (err) => fail(req, res, err) }))
      .catch((err: unknown) => {
        if (err instanceof CountedFailure || err instanceof IgnoredOutcome) return; // already answered
        if (err instanceof BreakerRejection) {
          ctx.breaker = upstream.breaker.state().value;
          return fail(req, res, err.kind === 'open'
            ? new GatewayError('CIRCUIT_OPEN', {
                upstream: upstream.name,
                detail: `The circuit breaker of upstream "${upstream.name}" is open; the request was not sent.`,
                retryAfterSeconds: retryAfterSeconds(err.retryAtMs, clock),
              })
            : new GatewayError('GATEWAY_OVERLOADED', {
                upstream: upstream.name,
                detail: `Upstream "${upstream.name}" already has ${upstream.config.maxConcurrent} requests in flight.`,
                retryAfterSeconds: 1,
              }));
        }
        fail(req, res, new GatewayError('INTERNAL_ERROR', { cause: err, detail: 'The gateway failed to handle this request.' }));
      });
  }

  return function handleTraffic(req, res) {
    const ctx: RequestContext = { requestId: requestIdOf(req), startedAt: performance.now() };
    setContext(req, ctx);
    state.inFlight++;
    res.once('close', () => onDone(req, res, ctx));
    deps.requestLogger(req, res);
    res.setHeader('X-Request-Id', ctx.requestId);
    if (state.draining) res.shouldKeepAlive = false;
    try {
      const url = req.url ?? '/';
      const unsafe = unsafePathReason(url);
      if (unsafe) return fail(req, res, new GatewayError('INVALID_REQUEST', { detail: `Invalid request target: ${unsafe}.` }));
      const q = url.indexOf('?');
      if (deps.ownPaths.has(q === -1 ? url : url.slice(0, q))) return deps.ownEndpoints(req, res);
      if (state.draining) return fail(req, res, new GatewayError('GATEWAY_SHUTTING_DOWN', { detail: 'The gateway is shutting down; send the request again to another instance.', retryAfterSeconds: 1 }));
      const match = routes.match(url);
      if (!match) return fail(req, res, new GatewayError('ROUTE_NOT_FOUND', { detail: 'No route is configured for this path.' }));
      const { route } = match;
      ctx.route = route.path;
      ctx.upstream = route.upstream;
      if (route.methods && !route.methods.has(req.method ?? '')) {
        return fail(req, res, new GatewayError('METHOD_NOT_ALLOWED', { detail: `Method ${req.method} is not allowed on ${route.path}.`, headers: { Allow: route.allow } }));
      }
      const max = route.config.maxBodyBytes;
      const length = req.headers['content-length'];
      if (length !== undefined) {
        if (Number(length) > max) return fail(req, res, tooLarge(max));
        return forward(req, res, ctx, match);
      }
      if (req.headers['transfer-encoding'] === undefined) return forward(req, res, ctx, match);
      // A chunked body has no announced size: read it (up to the limit) before anything is forwarded.
      readBody(req, max, (body) => {
        if (body === null) return fail(req, res, tooLarge(max));
        forward(req, res, ctx, match, body);
      });
    } catch (err) {
      fail(req, res, new GatewayError('INTERNAL_ERROR', { cause: err, detail: 'The gateway failed to handle this request.' }));
    }
  };
}

function tooLarge(max: number): GatewayError {
  return new GatewayError('PAYLOAD_TOO_LARGE', { detail: `The request body exceeds this route's limit of ${max} bytes.` });
}

/** Collects a body of at most `max` bytes; calls back with null as soon as it is larger. */
function readBody(req: IncomingMessage, max: number, done: (body: Buffer | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > max) {
      req.off('data', onData);
      req.off('end', onEnd);
      req.pause();
      done(null);
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => done(Buffer.concat(chunks, size));
  req.on('data', onData);
  req.on('end', onEnd);
}

/**
 * SPEC §5: X-Forwarded-* describe what the gateway itself saw; a caller's own values are kept
 * (and appended to) only when the peer is a trusted proxy. `Forwarded` from an untrusted
 * peer is dropped for the same reason.
 */
function setForwardedHeaders(req: IncomingMessage, trusted: TrustedProxies): void {
  const h = req.headers;
  const peer = req.socket.remoteAddress ?? '';
  const proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (trusted.trusts(peer)) {
    h['x-forwarded-for'] = h['x-forwarded-for'] ? `${h['x-forwarded-for']}, ${peer}` : peer;
    h['x-forwarded-proto'] ??= proto;
    if (h['x-forwarded-host'] === undefined && h.host !== undefined) h['x-forwarded-host'] = h.host;
    return;
  }
  h['x-forwarded-for'] = peer;
  h['x-forwarded-proto'] = proto;
  if (h.host !== undefined) h['x-forwarded-host'] = h.host;
  else delete h['x-forwarded-host'];
  delete h.forwarded;
}
