import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/gateway-error';
import { sendProblem } from '../errors/problem';
import type { TrustedProxies } from '../proxy/forwarded-for';
import { announcesBody, withoutHeaders } from '../proxy/headers';
import type { Preflight } from '../routing/preflight-probe';
import { unsafePathReason } from '../routing/path-safety';
import type { RouteMatch, RouteTable } from '../routing/match';
import { Relay, type RelayObserver } from '../proxy/relay';
import type { UpstreamRegistry } from '../upstreams/registry';
import type { Clock } from '../core/clock';
import { hostHeaderProblem } from './host-header';
import { contextOf, RequestContext, setContext } from './request-context';
import { requestIdOf } from './request-id';

/** Called once per request when its response is over (finished or aborted). */
export type RequestObserver = (ctx: RequestContext, req: IncomingMessage, res: ServerResponse) => void;

/** The traffic listener's request handler, with the hook shutdown needs. */
export type TrafficHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /**
   * SPEC §8: called when draining starts. Responses still to be sent for requests already in
   * flight will carry `Connection: close`, so no caller reuses a socket that is about to close.
   */
  drain(): void;
  /** Closes the sockets kept alive towards the targets. */
  close(): void;
};

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
  trustedProxies: TrustedProxies;
  state: TrafficState;
  /** The gateway's own endpoints (/healthz, /readyz, /status), served by Express. */
  ownEndpoints: (req: IncomingMessage, res: ServerResponse) => void;
  ownPaths: ReadonlySet<string>;
  observers: readonly RequestObserver[];
  /** SPEC §5 pre-flight; answers synchronously except for `preflight: probe` routes that must probe live. */
  preflight: Preflight;
  /** Retries and retry-budget refusals, for the metrics. */
  relayObserver?: RelayObserver;
}

/**
 * The traffic listener's request handler. Proxied requests take this lean path (match on
 * the raw request, then straight to the forwarder) because Express adds ~90 µs of CPU per
 * request; only the gateway's own endpoints go through Express.
 * Flow (README "Request flow"): match route → reject bad path/method/size → pre-flight →
 * the relay (target choice, breaker with its concurrency limit, transport, retries).
 */
export function createTrafficHandler(deps: TrafficDeps): TrafficHandler {
  const { routes, registry, clock, state, observers } = deps;
  /** Responses not over yet, so that drain() can reach them. */
  const open = new Set<ServerResponse>();

  function fail(req: IncomingMessage, res: ServerResponse, err: GatewayError): void {
    const ctx = contextOf(req);
    if (ctx) {
      ctx.code = err.code;
      // Refused before send() read it (405, 413, pre-flight, drain): the log line still names the state.
      if (ctx.upstream !== undefined && ctx.breaker === undefined) ctx.breaker = registry.get(ctx.upstream).breaker.state().value;
    }
    // An unread body would have to be drained to reuse the connection; closing is cheaper and safer.
    // (A bodyless request is not `complete` yet while it is answered synchronously, and keeps its connection.)
    if (!req.complete && announcesBody(req.headers)) res.shouldKeepAlive = false;
    if (err.code === 'INTERNAL_ERROR') deps.logger.error({ err: err.options.cause ?? err, requestId: ctx?.requestId }, 'internal error');
    sendProblem(res, err, req, ctx?.requestId ?? '');
  }

  function onDone(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    // Once per response, whichever close came first (see closeQueued).
    if (!open.delete(res)) return;
    state.inFlight--;
    (req.socket as WithQueued)[QUEUED]?.delete(res);
    for (const observe of observers) observe(ctx, req, res);
  }

  /**
   * A pipelined request's response waits in Node's queue without a socket, and if the caller
   * hangs up first, Node never closes it: it would stay in flight (and its upstream request
   * open) for good. The connection's own 'close' closes what is still queued on it.
   */
  function trackQueued(socket: WithQueued, res: ServerResponse): void {
    let queued = socket[QUEUED];
    if (queued === undefined) {
      queued = socket[QUEUED] = new Set();
      socket.once('close', closeQueued);
    }
    queued.add(res);
  }

  function closeQueued(this: WithQueued): void {
    const queued = this[QUEUED];
    if (queued === undefined) return;
    this[QUEUED] = undefined;
    // 'close' is what every listener of a response (the forwarder's too) waits for to let go.
    for (const res of queued) if (open.has(res)) res.emit('close');
  }

  function forward(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, match: RouteMatch, body?: Buffer): void {
    const verdict = deps.preflight.check(match.route);
    if (verdict instanceof Promise) {
      verdict
        .then((refusal) => {
          if (req.socket.destroyed) return; // the caller went away while the probe ran
          if (refusal) fail(req, res, refusal);
          else send(req, res, ctx, match, body);
        })
        .catch((err: unknown) => fail(req, res, new GatewayError('INTERNAL_ERROR', { cause: err, detail: 'The gateway failed to handle this request.' })));
      return;
    }
    if (verdict) return fail(req, res, verdict);
    send(req, res, ctx, match, body);
  }

  const trusted = deps.trustedProxies;
  const relay = new Relay({
    registry,
    clock,
    fail,
    prepare: (req) => setForwardedHeaders(req, trusted),
    ...(deps.relayObserver ? { observer: deps.relayObserver } : {}),
  });

  /** After pre-flight: the relay picks a target, admits the call at its breaker and forwards it. */
  function send(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, match: RouteMatch, body?: Buffer): void {
    try {
      relay.forward(req, res, ctx, match.route.upstream, match.upstreamPath, body);
    } catch (err) {
      fail(req, res, new GatewayError('INTERNAL_ERROR', { cause: err, detail: 'The gateway failed to handle this request.' }));
    }
  }

  /** The one 'close' listener of every traffic response: shared, so no closure per request. */
  function onClose(this: ServerResponse): void {
    const ctx = contextOf(this.req);
    if (ctx) onDone(this.req, this, ctx);
  }

  function handleTraffic(req: IncomingMessage, res: ServerResponse): void {
    const ctx = new RequestContext(requestIdOf(req), performance.now());
    setContext(req, ctx);
    state.inFlight++;
    open.add(res);
    res.on('close', onClose);
    if (res.socket === null) trackQueued(req.socket as WithQueued, res);
    if (state.draining) res.shouldKeepAlive = false;
    try {
      const badHost = hostHeaderProblem(req);
      if (badHost) return fail(req, res, new GatewayError('INVALID_REQUEST', { detail: `Invalid request: ${badHost}.` }));
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      ctx.path = q === -1 ? url : url.slice(0, q);
      const unsafe = unsafePathReason(url);
      if (unsafe) return fail(req, res, new GatewayError('INVALID_REQUEST', { detail: `Invalid request target: ${unsafe}.` }));
      if (deps.ownPaths.has(ctx.path)) {
        ctx.route = ctx.path;
        res.setHeader('X-Request-Id', ctx.requestId);
        return deps.ownEndpoints(req, res);
      }
      const match = routes.match(url);
      if (match) {
        ctx.route = match.route.path;
        ctx.upstream = match.route.upstream;
      }
      if (state.draining) return fail(req, res, new GatewayError('GATEWAY_SHUTTING_DOWN', { upstream: ctx.upstream, detail: 'The gateway is shutting down; send the request again to another instance.', retryAfterSeconds: 1 }));
      if (!match) return fail(req, res, new GatewayError('ROUTE_NOT_FOUND', { detail: 'No route is configured for this path.' }));
      const { route } = match;
      if (route.methods && !route.methods.has(req.method ?? '')) {
        return fail(req, res, new GatewayError('METHOD_NOT_ALLOWED', { upstream: route.upstream, detail: `Method ${req.method} is not allowed on ${route.path}.`, headers: { Allow: route.allow } }));
      }
      const max = route.config.maxBodyBytes;
      const length = req.headers['content-length'];
      if (length !== undefined) {
        if (Number(length) > max) return fail(req, res, tooLarge(max, route.upstream));
        if (Number(length) === 0) return forward(req, res, ctx, match);
      } else if (req.headers['transfer-encoding'] === undefined) {
        return forward(req, res, ctx, match);
      } else if (!isChunkedOnly(req.headers['transfer-encoding'])) {
        // Node de-chunks but decodes no other coding: the upstream would get, say, gzip bytes
        // with nothing saying so.
        return fail(req, res, new GatewayError('INVALID_REQUEST', { upstream: route.upstream, detail: 'Only the chunked transfer coding is supported in requests.' }));
      }
      // Expect: 100-continue (the 'checkContinue' event): the caller waits for a go-ahead before
      // sending the body, so everything refused above was refused without it sending a byte.
      if (isContinueExpected(req)) res.writeContinue();
      // A body is read completely (up to the limit) before a byte is forwarded: a chunked body
      // has no announced size, and a caller sending slowly must get 408 from the gateway, not
      // reach the upstream half-sent and spend its response timeout (and breaker) on the
      // caller's slowness (SPEC §5: too-slow senders never reach an upstream).
      readBody(req, max, (body) => {
        if (body === null) return fail(req, res, tooLarge(max, route.upstream));
        forward(req, res, ctx, match, body);
      });
    } catch (err) {
      fail(req, res, new GatewayError('INTERNAL_ERROR', { cause: err, detail: 'The gateway failed to handle this request.' }));
    }
  }

  return Object.assign(handleTraffic, {
    drain(): void {
      for (const res of open) if (!res.headersSent) res.shouldKeepAlive = false;
    },
    close(): void {
      relay.close();
    },
  });
}

function isChunkedOnly(te: string): boolean {
  return te.length === 7 ? te.toLowerCase() === 'chunked' : te.trim().toLowerCase() === 'chunked';
}

function isContinueExpected(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return expect !== undefined && expect.trim().toLowerCase() === '100-continue';
}

const QUEUED = Symbol('breakwater.queued');
/** A caller's connection, with the pipelined responses still waiting in Node's queue on it. */
type WithQueued = Socket & { [QUEUED]?: Set<ServerResponse> };

/** The route's upstream is named (SPEC §4: "the upstream concerned"), though nothing reached it. */
function tooLarge(max: number, upstream: string): GatewayError {
  return new GatewayError('PAYLOAD_TOO_LARGE', { upstream, detail: `The request body exceeds this route's limit of ${max} bytes.` });
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
  const peer = req.socket.remoteAddress ?? '';
  const proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (trusted.trusts(peer)) {
    const h = req.headers;
    h['x-forwarded-for'] = h['x-forwarded-for'] ? `${h['x-forwarded-for']}, ${peer}` : peer;
    h['x-forwarded-proto'] ??= proto;
    if (h['x-forwarded-host'] === undefined && h.host !== undefined) h['x-forwarded-host'] = h.host;
    return;
  }
  // A copy rather than `delete` when the caller's own values must go (see stripHopByHop).
  if (req.headers.forwarded !== undefined || (req.headers.host === undefined && req.headers['x-forwarded-host'] !== undefined)) {
    req.headers = withoutHeaders(req.headers, UNTRUSTED_ONLY);
  }
  const h = req.headers;
  h['x-forwarded-for'] = peer;
  h['x-forwarded-proto'] = proto;
  if (h.host !== undefined) h['x-forwarded-host'] = h.host;
}

/** Headers only a trusted peer may send on: dropped from an untrusted one's request unless the gateway sets them. */
const UNTRUSTED_ONLY: ReadonlySet<string> = new Set(['forwarded', 'x-forwarded-host']);
