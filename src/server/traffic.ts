import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/gateway-error';
import { sendProblem } from '../errors/problem';
import type { CallerIdentity } from '../proxy/caller-identity';
import { announcesBody, stripHopByHop } from '../proxy/headers';
import { applyUpstreamHeaders } from '../proxy/upstream-headers';
import type { Queue } from '../queue/queue';
import type { Preflight } from '../routing/preflight-probe';
import { unsafePathReason } from '../routing/path-safety';
import type { RouteMatch, RouteTable } from '../routing/match';
import { Relay, type RelayObserver } from '../proxy/relay';
import type { UpstreamRegistry } from '../upstreams/registry';
import type { Clock } from '../core/clock';
import { setClientCertHeader, type ClientIdentity } from './client-identity';
import { hostHeaderProblem } from './host-header';
import { contextOf, RequestContext, setContext } from './request-context';
import { pathOf } from '../core/request-path';
import type { ConnectionLimit } from './connection-limit';
import { PipelineGate } from './pipeline';
import { SendTimeout } from './send-timeout';
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
  /** Stops the send-timeout sweep and closes the sockets kept alive towards the targets. */
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
  /** Sets X-Forwarded-*, X-Real-IP and drops the untrusted headers (listen.trustedProxies, listen.untrustedHeaders). */
  callerIdentity: CallerIdentity;
  state: TrafficState;
  /** The gateway's own endpoints (/healthz, /readyz, /status), served by Express. */
  ownEndpoints: (req: IncomingMessage, res: ServerResponse) => void;
  ownPaths: ReadonlySet<string>;
  observers: readonly RequestObserver[];
  /** SPEC §5 pre-flight; answers synchronously except for `preflight: probe` routes that must probe live. */
  preflight: Preflight;
  /** Retries and retry-budget refusals, for the metrics. */
  relayObserver?: RelayObserver;
  /** listen.sendTimeoutMs: a caller that accepts no bytes for this long is cut. */
  sendTimeoutMs: number;
  /** listen.maxConnections: requests on connections past it are refused. */
  connectionLimit: ConnectionLimit;
  /** With `listen.tls.requestCert`: the callers' certificates, and the header that carries the subject upstream. */
  clientCert?: { identity: ClientIdentity; header: string | undefined };
  /** Queued delivery, when any route has `delivery: queued`: its intake and GET /messages/{id}. */
  queue?: Queue;
}

/** GET /messages/{id} (queued delivery), served by the traffic listener itself. */
const MESSAGES_PREFIX = '/messages/';

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
  const pipeline = new PipelineGate();
  const sendTimeout = new SendTimeout(deps.sendTimeoutMs, clock, () => open);

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
    // Once per response, whichever close came first (see PipelineGate).
    if (!open.delete(res)) return;
    state.inFlight--;
    for (const observe of observers) observe(ctx, req, res);
  }

  function forward(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, match: RouteMatch, body?: Buffer): void {
    if (deps.queue && match.route.config.delivery === 'queued') return enqueue(req, res, ctx, match, body);
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

  /** Who the caller is, as the upstreams see it (after hop-by-hop headers were stripped). */
  function identify(req: IncomingMessage): void {
    deps.callerIdentity.apply(req);
    if (deps.clientCert?.header !== undefined) setClientCertHeader(req, deps.clientCert.header, deps.clientCert.identity.of(req));
  }

  const relay = new Relay({
    registry,
    clock,
    fail,
    // Once per request, before its first attempt: who the caller is, and what the upstream
    // adds to every request it receives.
    prepare: (req, upstream) => {
      identify(req);
      applyUpstreamHeaders(req, upstream.config.headers);
    },
    ...(deps.relayObserver ? { observer: deps.relayObserver } : {}),
  });

  /** A queued route: the request is stored as the upstream would have received it, then answered 202. */
  function enqueue(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, match: RouteMatch, body?: Buffer): void {
    stripHopByHop(req);
    // The same identity as a direct request (a stored copy never keeps the caller's own client-certificate header).
    identify(req);
    req.headers['x-request-id'] = ctx.requestId;
    deps.queue?.accept(req, res, ctx.requestId, match, body, fail);
  }

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
    if (state.draining) res.shouldKeepAlive = false;
    // A pipelined request waits for its turn (no socket yet) before anything of it is handled.
    if (res.socket === null) pipeline.admit(req.socket, res, () => handle(req, res, ctx));
    else handle(req, res, ctx);
  }

  function handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    if (state.draining) res.shouldKeepAlive = false;
    if (deps.connectionLimit.isRefused(req.socket)) {
      res.shouldKeepAlive = false;
      ctx.path = pathOf(req.url);
      return fail(req, res, new GatewayError('GATEWAY_OVERLOADED', { detail: `The gateway already serves ${deps.connectionLimit.max} connections, its limit; this one closes.`, retryAfterSeconds: 1 }));
    }
    const cert = deps.clientCert?.identity.of(req);
    if (cert) ctx.clientCert = cert.verified ? cert.subject : null;
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
      if (deps.queue && ctx.path.startsWith(MESSAGES_PREFIX)) {
        ctx.route = '/messages';
        return deps.queue.serveMessage(req, res, ctx.path.slice(MESSAGES_PREFIX.length), ctx.requestId, fail);
      }
      const match = routes.match(url);
      if (match) {
        ctx.route = match.route.path;
        ctx.upstream = match.route.upstream;
      }
      if (state.draining) return fail(req, res, new GatewayError('GATEWAY_SHUTTING_DOWN', { upstream: ctx.upstream, detail: 'The gateway is shutting down; send the request again to another instance.', retryAfterSeconds: 1 }));
      // A path an upstream reads as another route's would escape that route's methods and
      // limits (README "Request flow"): refused, as dot-segments are, never normalised.
      const reading = routes.matchReading(ctx.path);
      if (reading !== undefined && reading !== null && reading !== match?.route) {
        return fail(req, res, new GatewayError('INVALID_REQUEST', { upstream: match?.route.upstream, detail: READS_AS_ANOTHER_ROUTE }));
      }
      if (!match) return fail(req, res, new GatewayError('ROUTE_NOT_FOUND', { detail: 'No route is configured for this path.' }));
      const { route } = match;
      // Before anything else about the route (methods, size): a caller without a certificate learns only that it needs one.
      if (route.config.clientCert === 'required' && cert?.verified !== true) {
        const why = cert === undefined || cert.verified ? 'the listener does not ask for one' : cert.reason;
        return fail(req, res, new GatewayError('CLIENT_CERT_REQUIRED', { upstream: route.upstream, detail: `This route needs a verified TLS client certificate, and ${why}. Nothing was forwarded.` }));
      }
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
      sendTimeout.close();
      relay.close();
    },
  });
}

const READS_AS_ANOTHER_ROUTE = 'Invalid request target: read the way many upstreams read paths (unreserved percent-encodings decoded, ";" parameters removed, case folded), it would match a different route.';

function isChunkedOnly(te: string): boolean {
  return te.length === 7 ? te.toLowerCase() === 'chunked' : te.trim().toLowerCase() === 'chunked';
}

function isContinueExpected(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return expect !== undefined && expect.trim().toLowerCase() === '100-continue';
}


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
