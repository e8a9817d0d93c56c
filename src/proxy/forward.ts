import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createProxyMiddleware } from 'http-proxy-middleware';
import type { UpstreamConfig } from '../config/types';
import { lostToStall } from '../core/stall';
import { classifyFailure } from '../errors/classify';
import { GatewayError } from '../errors/gateway-error';
import { CountedFailure, IgnoredOutcome } from '../upstreams/breaker';
import { announcesBody, relayedResponseHeaders, stripHopByHop } from './headers';
import { closeIdleSockets } from './idle-sockets';

/** One caller request handed to an upstream. */
export interface ExchangeRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The id the gateway chose for this request; the caller gets it back as X-Request-Id. */
  requestId: string;
  /** A fully buffered body (chunked requests are buffered to enforce maxBodyBytes first). */
  body?: Buffer;
  /**
   * Answers the caller with a gateway problem (the traffic handler renders and records it).
   * One function for all requests, handed the request's own objects: no closure per request.
   */
  fail(req: IncomingMessage, res: ServerResponse, err: GatewayError): void;
}

/** Sends exchanges to one upstream; each call settles when the exchange is over. */
export interface Forwarder {
  /**
   * Resolves when the upstream's answer was relayed completely; rejects with CountedFailure
   * when the breaker must count a failure, or IgnoredOutcome when the caller went away.
   * The caller has always been answered (or its connection closed) when it settles.
   */
  forward(x: ExchangeRequest): Promise<void>;
  /** Sockets kept alive towards the upstream, for drain and leak checks. */
  close(): void;
}

/** The part of http-proxy's server the forwarder uses: `web()` with an error callback. */
interface ProxyServer {
  web(req: IncomingMessage, res: ServerResponse, options: object, callback: (err: Error, req: IncomingMessage) => void): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

/** Stands in for the caller's request as the stream http-proxy pipes into the upstream request. */
interface BodySource {
  pipe<T extends NodeJS.WritableStream>(dest: T): T;
}

/** A bodyless request: the upstream request ends right after its headers. */
const NO_BODY: BodySource = {
  pipe(dest) {
    dest.end();
    return dest;
  },
};

/** A free keep-alive socket to an upstream is closed after this long idle (checked every IDLE_SWEEP_MS). */
const IDLE_SOCKET_MS = 3500;
const IDLE_SWEEP_MS = 500;

/** Response headers at which Node's client starts dropping them (its parser's 2,000 entries). */
const MAX_RESPONSE_HEADERS = 1000;

/** Idempotent methods a stale keep-alive socket may be retried for, once, when they carry no body. */
const RETRY_SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

const EXCHANGE = Symbol('breakwater.exchange');
type WithExchange = (IncomingMessage | ClientRequest) & { [EXCHANGE]?: Exchange };

/** The state of one request's trip to the upstream; a class so every exchange has the same shape. */
class Exchange {
  connected = false;
  connectTimedOut = false;
  responseTimedOut = false;
  retried = false;
  done = false;
  proxyReq: ClientRequest | undefined = undefined;
  proxyRes: IncomingMessage | undefined = undefined;
  /** timeoutMs: first until the response headers, then for every silence in the body. */
  timer: NodeJS.Timeout | undefined = undefined;
  connectTimer: NodeJS.Timeout | undefined = undefined;
  /** When `timer` and `connectTimer` are due (performance.now()), to tell a stall of ours from the upstream's. */
  timerDueAt = 0;
  connectDueAt = 0;
  /** `timer` is the one extra wait after a stall (src/core/stall.ts), not timeoutMs long: refresh() must not reuse it. */
  timerIsGrace = false;
  /** Each timer waits out a stall of ours once per exchange. */
  timerGraceGiven = false;
  connectGraceGiven = false;
  failedStatus = false;
  /** The upstream's response head arrived (a retry is no longer safe). */
  responded = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly body: Buffer | undefined,
    readonly fail: ExchangeRequest['fail'],
    readonly resolve: () => void,
    readonly reject: (err: Error) => void,
  ) {}
}

/**
 * Builds the forwarder of one upstream. http-proxy-middleware creates and configures the
 * proxy server (http-proxy) and hands it over through its plugin hook; each request then goes
 * straight to the server's `web()` with options worked out once per upstream. That skips the
 * middleware's per-request wrapper (three awaits, an options copy and a parse of the target
 * URL): about 25 µs of CPU per request on the benchmark's VM, measured against the same
 * server called through the middleware.
 * What a gateway needs beyond the library: its own connect and response timers (told apart by
 * flags, since a destroyed socket looks like a reset), its own failure classification, and
 * `selfHandleResponse` to relay answers without hop-by-hop headers.
 */
export function createForwarder(upstream: UpstreamConfig): Forwarder {
  const isHttps = upstream.url.startsWith('https:');
  const target = targetOf(upstream.url);
  const agentOptions = {
    keepAlive: true,
    // What Node would work out from the Host header (changeOrigin makes it the target's) on
    // every request; given here, the agent's per-request copy of the options need not grow.
    // It is the TLS SNI name, so an IP address gives none, as Node does.
    servername: upstream.tls?.servername ?? (isIP(target.hostname) ? '' : target.hostname),
    maxFreeSockets: 256,
    scheduling: 'lifo' as const,
  };
  const agent = isHttps
    ? new https.Agent({
        ...agentOptions,
        rejectUnauthorized: upstream.tls?.rejectUnauthorized ?? true,
        ...(upstream.tls?.ca ? { ca: upstream.tls.ca } : {}),
      })
    : new http.Agent(agentOptions);
  // Closed between 3.5 and 4 s idle: below the 5 s keep-alive timeout most servers use, so the
  // upstream rarely closes a socket we are about to reuse.
  const stopSweep = closeIdleSockets(agent, IDLE_SOCKET_MS, IDLE_SWEEP_MS);

  let server: ProxyServer | undefined;
  createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: upstream.url,
    ejectPlugins: true,
    plugins: [
      (proxyServer) => {
        server = proxyServer as unknown as ProxyServer;
      },
    ],
  });
  if (!server) throw new Error('http-proxy-middleware did not hand over its proxy server');
  const proxyServer = server;
  proxyServer.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => onProxyReq(proxyReq, req));
  proxyServer.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) => onProxyRes(proxyRes, req));
  proxyServer.on('econnreset', (_err: Error, req: IncomingMessage) => callerGone(exchangeOf(req)));

  const baseOptions = {
    target,
    changeOrigin: true,
    agent,
    xfwd: false,
    selfHandleResponse: true,
  };
  const bodylessOptions = { ...baseOptions, buffer: NO_BODY };

  function send(x: Exchange): void {
    const body = x.body;
    // http-proxy pipes `options.buffer` into the upstream request: the body was read already
    // (to enforce maxBodyBytes), so it is handed over in one piece.
    const options = body === undefined
      ? bodylessOptions
      : { ...baseOptions, buffer: { pipe: <T extends NodeJS.WritableStream>(dest: T): T => (dest.end(body), dest) } };
    proxyServer.web(x.req, x.res, options, onError);
  }

  function exchangeOf(req: IncomingMessage): Exchange | undefined {
    return (req as WithExchange)[EXCHANGE];
  }

  function onProxyReq(proxyReq: ClientRequest, req: IncomingMessage): void {
    const x = exchangeOf(req);
    if (!x || x.done) {
      proxyReq.destroy();
      return;
    }
    x.proxyReq = proxyReq;
    (proxyReq as WithExchange)[EXCHANGE] = x;
    // Without a listener Node destroys the socket of an unasked-for 101 and the request never
    // settles; with one, it is answered as the invalid response it is.
    proxyReq.on('upgrade', onUpgrade);
    const socket = proxyReq.socket as Socket | null;
    if (socket && socket.connecting) {
      x.connectTimer = setTimeout(onConnectTimeout, upstream.connectTimeoutMs, x);
      x.connectDueAt = performance.now() + upstream.connectTimeoutMs;
      // For https the connection is up only after the TLS handshake (connectTimeoutMs covers
      // both), and no request byte is written before it: a stalled handshake is unreachable.
      socket.once(isHttps ? 'secureConnect' : 'connect', () => {
        x.connected = true;
        clearTimeout(x.connectTimer);
      });
    } else {
      x.connected = true;
    }
  }

  function onConnectTimeout(x: Exchange): void {
    // Fired late: our process was stalled, and the connection may stand unread in the kernel.
    const lost = x.connectGraceGiven ? 0 : lostToStall(x.connectDueAt, performance.now(), upstream.connectTimeoutMs);
    if (lost > 0) {
      x.connectGraceGiven = true;
      x.connectTimer = setTimeout(onConnectTimeout, lost, x);
      return;
    }
    x.connectTimedOut = true;
    x.proxyReq?.destroy(new Error('connect timeout'));
  }

  /** timeoutMs ran out: before the headers, the upstream is too slow; after them, its body stalled. */
  function onDeadline(x: Exchange): void {
    if (x.done) return;
    // Fired late: our process was stalled, and the upstream's answer may lie unread in the
    // socket (due timers run before pending I/O is read). Wait once for the time lost.
    const lost = x.timerGraceGiven ? 0 : lostToStall(x.timerDueAt, performance.now(), upstream.timeoutMs);
    if (lost > 0) {
      x.timerGraceGiven = true;
      x.timerIsGrace = true;
      x.timer = setTimeout(onDeadline, lost, x);
      return;
    }
    const proxyRes = x.proxyRes;
    if (proxyRes === undefined) {
      // timeoutMs runs from the start, so it can expire while the connection is still being
      // made (connectTimeoutMs >= timeoutMs): then no byte was sent, and it is a connect timeout.
      if (x.connected) x.responseTimedOut = true;
      else x.connectTimedOut = true;
      // A request already destroyed emits no error again: then the timeout is reported here.
      if (x.proxyReq && !x.proxyReq.destroyed) x.proxyReq.destroy(new Error('response timeout'));
      else onError(Object.assign(new Error('response timeout'), { code: 'ETIMEDOUT' }), x.req);
      return;
    }
    // The body is all here and the caller is still reading it: that is not the upstream's silence.
    if (proxyRes.complete) return;
    // Time the caller itself takes to read (back-pressure) is not the upstream's silence either.
    if (x.res.writableNeedDrain) return refreshDeadline(x);
    x.responseTimedOut = true;
    proxyRes.destroy();
  }

  function onProxyRes(proxyRes: IncomingMessage, req: IncomingMessage): void {
    const x = exchangeOf(req);
    if (!x || x.done) {
      proxyRes.destroy();
      return;
    }
    const status = proxyRes.statusCode ?? 0;
    // RFC 9110 §15: values outside 100..599 are invalid; Node's parser lets them through. A 1xx
    // arrives here only when it is not informational (a 101 without Upgrade): no final answer.
    if (status < 200 || status > 599) {
      proxyRes.destroy();
      return onError(invalidResponse(`invalid status code ${status}`), req);
    }
    // Node's client keeps the first ~1,000 response headers and drops the rest without a
    // word (its parser is set up before any option of ours can reach it): an answer that
    // reaches that many is refused rather than relayed cut.
    if (proxyRes.rawHeaders.length >= 2 * MAX_RESPONSE_HEADERS) {
      proxyRes.destroy();
      return onError(invalidResponse(`${MAX_RESPONSE_HEADERS} response headers or more`), req);
    }
    x.proxyRes = proxyRes;
    x.responded = true;
    refreshDeadline(x);
    x.failedStatus = upstream.failureStatuses.includes(status);
    (proxyRes as WithExchange)[EXCHANGE] = x;
    // The relayed head goes out with the first body byte (or at the end), as Node sends it
    // anyway: until then nothing has reached the caller, so a failure still gets a problem
    // rather than an empty reply. Shared listeners: no closure per request.
    proxyRes.on('data', onBodyData);
    proxyRes.on('end', onBodyEnd);
    proxyRes.on('close', onBodyClose);
  }

  /** Writes the upstream's status and headers; false when Node refuses them (the caller got a problem). */
  function relayHead(x: Exchange, proxyRes: IncomingMessage): boolean {
    if (x.res.headersSent) return true;
    const headers = relayedResponseHeaders(proxyRes.rawHeaders, x.requestId);
    const status = proxyRes.statusCode as number;
    try {
      if (proxyRes.statusMessage) x.res.writeHead(status, proxyRes.statusMessage, headers);
      else x.res.writeHead(status, headers);
      return true;
    } catch (err) {
      // What Node's client parser lets through but its server refuses to send (a control
      // character in the reason phrase, say) is invalid HTTP all the same.
      x.proxyRes = undefined;
      proxyRes.destroy();
      onError(invalidResponse((err as Error).message), x.req);
      return false;
    }
  }

  function onBodyData(this: IncomingMessage, chunk: Buffer): void {
    const x = (this as WithExchange)[EXCHANGE];
    if (x === undefined || x.done) return;
    // After the headers, timeoutMs bounds every silence in the body as well: an upstream that
    // stops sending mid-body must not hold the caller forever.
    refreshDeadline(x);
    if (!relayHead(x, this)) return;
    if (!x.res.write(chunk)) {
      this.pause();
      x.res.once('drain', onCallerDrain);
    }
  }

  /** timeoutMs from now. */
  function refreshDeadline(x: Exchange): void {
    if (x.timerIsGrace) {
      clearTimeout(x.timer);
      x.timer = setTimeout(onDeadline, upstream.timeoutMs, x);
      x.timerIsGrace = false;
    } else {
      x.timer?.refresh();
    }
    x.timerDueAt = performance.now() + upstream.timeoutMs;
  }

  function onCallerDrain(this: ServerResponse): void {
    exchangeOf(this.req)?.proxyRes?.resume();
  }

  function onBodyEnd(this: IncomingMessage): void {
    const x = (this as WithExchange)[EXCHANGE];
    if (x === undefined || x.done) return;
    if (relayHead(x, this)) x.res.end();
  }

  /** The upstream's response closed before its end: it went away, or timeoutMs cut it. */
  function onBodyClose(this: IncomingMessage): void {
    const x = (this as WithExchange)[EXCHANGE];
    if (x === undefined || x.done || this.complete) return;
    if (x.res.headersSent) {
      // Part of the answer has gone out: a body cut short must never look complete.
      x.res.destroy();
      return finish(x, new CountedFailure(x.responseTimedOut ? 'timeout' : 'failure'));
    }
    // Nothing has reached the caller yet: a failure like any other (a timeout, or the connection lost).
    onError(new Error('the upstream response closed before its end'), x.req);
  }

  /** The upstream switched protocols though nobody asked it to. */
  function onUpgrade(this: ClientRequest, _res: IncomingMessage, socket: Socket): void {
    socket.destroy();
    const x = (this as WithExchange)[EXCHANGE];
    if (x) onError(invalidResponse('unrequested 101 Switching Protocols'), x.req);
  }

  function onError(err: Error, req: IncomingMessage): void {
    const x = exchangeOf(req);
    if (!x || x.done) return;
    const code = (err as NodeJS.ErrnoException).code;
    if (x.res.writableEnded || x.res.destroyed) return callerGone(x);
    // The answer had arrived whole (a 204, or a body of its full length) and the parser choked
    // on bytes after it: the caller gets that answer; the socket is not reused.
    if (x.proxyRes?.complete) return;
    // A keep-alive socket the upstream had already closed: nothing was processed there, and
    // a bodyless idempotent request may safely go again on a fresh connection, once.
    if (!x.retried && x.proxyReq?.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE') && !x.responded
      && RETRY_SAFE.has(x.req.method ?? '') && x.body === undefined && !announcesBody(x.req.headers)) {
      x.retried = true;
      x.proxyReq = undefined;
      x.connected = false;
      send(x);
      return;
    }
    const c = classifyFailure({ code, connectTimedOut: x.connectTimedOut, responseTimedOut: x.responseTimedOut, connected: x.connected, sentEarlier: x.retried });
    const local = c.code === 'GATEWAY_OVERLOADED';
    x.fail(x.req, x.res, new GatewayError(c.code, { forwarded: c.forwarded, upstream: upstream.name, detail: detailOf(c.code, upstream, x.responded), cause: err, ...(local ? { retryAfterSeconds: 1 } : {}) }));
    // The gateway's own exhaustion is no failure of the upstream's: its breaker must not open for it.
    finish(x, local ? new IgnoredOutcome('local resources') : new CountedFailure(c.code === 'UPSTREAM_TIMEOUT' ? 'timeout' : 'failure'));
  }

  function callerGone(x: Exchange | undefined): void {
    if (!x || x.done) return;
    x.proxyReq?.destroy();
    finish(x, new IgnoredOutcome('caller went away'));
  }

  /** The caller's response is over: relayed completely, or cut (by the caller, or by us above). */
  function onCallerClose(this: ServerResponse): void {
    const x = exchangeOf(this.req);
    if (!x || x.done) return;
    if (this.writableFinished) finish(x, x.failedStatus ? new CountedFailure('failure') : undefined);
    else callerGone(x);
  }

  function finish(x: Exchange, failure?: Error): void {
    if (x.done) return;
    x.done = true;
    clearTimeout(x.timer);
    clearTimeout(x.connectTimer);
    // Assigning, not `delete`: deleting a property drops the request object into slow dictionary mode.
    (x.req as WithExchange)[EXCHANGE] = undefined;
    if (failure) x.reject(failure);
    else x.resolve();
  }

  return {
    forward(request: ExchangeRequest): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const { req, res } = request;
        const x = new Exchange(req, res, request.requestId, request.body, request.fail, resolve, reject);
        (req as WithExchange)[EXCHANGE] = x;
        // Also drops `Expect`: Node's server already answered the caller's `Expect: 100-continue`,
        // and the body is sent in one go. Passed on, it would also make http-proxy skip its
        // 'proxyReq' event, so no connect timer would run and a reset would be misread as
        // "nothing was forwarded".
        stripHopByHop(req);
        if (x.body) req.headers['content-length'] = String(x.body.length);
        x.timer = setTimeout(onDeadline, upstream.timeoutMs, x);
        x.timerDueAt = performance.now() + upstream.timeoutMs;
        // 'close' comes once per response; `on` spares the once-wrapper.
        res.on('close', onCallerClose);
        send(x);
      });
    },
    close(): void {
      stopSweep();
      agent.destroy();
    },
  };
}

/**
 * The target in the shape http-proxy works with (that of the legacy `url.parse`), built once:
 * given a string, http-proxy would parse it again on every request.
 */
function targetOf(url: string): { protocol: string; host: string; hostname: string; port: string; path: string; pathname: string } {
  const u = new URL(url);
  return {
    protocol: u.protocol,
    host: u.host,
    // http.request wants an IPv6 address without its brackets.
    hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
    port: u.port,
    path: u.pathname + u.search,
    pathname: u.pathname,
  };
}

/** An answer Node parsed but HTTP does not allow; classified like the parser's own errors. */
function invalidResponse(message: string): Error {
  return Object.assign(new Error(message), { code: 'HPE_INVALID_RESPONSE' });
}

/** Caller-facing detail: names the upstream, never its address. `afterHead`: its response head had arrived. */
function detailOf(code: string, upstream: UpstreamConfig, afterHead = false): string {
  switch (code) {
    case 'UPSTREAM_UNREACHABLE': return `Upstream "${upstream.name}" could not be reached; the request was not sent.`;
    case 'UPSTREAM_TIMEOUT': return afterHead
      ? `Upstream "${upstream.name}" sent its response headers, then nothing for ${upstream.timeoutMs} ms.`
      : `Upstream "${upstream.name}" sent no response headers within ${upstream.timeoutMs} ms.`;
    case 'UPSTREAM_TLS_ERROR': return `The TLS handshake with upstream "${upstream.name}" failed; the request was not sent.`;
    case 'UPSTREAM_BAD_RESPONSE': return `Upstream "${upstream.name}" answered with invalid HTTP.`;
    case 'GATEWAY_OVERLOADED': return `The gateway has run out of local resources (file descriptors or ports) to reach upstream "${upstream.name}"; the request was not sent.`;
    default: return `The connection to upstream "${upstream.name}" was lost before its answer was complete.`;
  }
}
