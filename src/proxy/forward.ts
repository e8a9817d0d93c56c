import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { createProxyMiddleware } from 'http-proxy-middleware';
import type { UpstreamConfig } from '../config/types';
import { classifyFailure } from '../errors/classify';
import { GatewayError } from '../errors/gateway-error';
import { CountedFailure, IgnoredOutcome } from '../upstreams/breaker';
import { stripHopByHop } from './headers';

/** One caller request handed to an upstream. */
export interface ExchangeRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** A fully buffered body (chunked requests are buffered to enforce maxBodyBytes first). */
  body?: Buffer;
  /** Answers the caller with a gateway problem (the traffic handler renders and records it). */
  fail(err: GatewayError): void;
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

interface Exchange extends ExchangeRequest {
  connected: boolean;
  connectTimedOut: boolean;
  responseTimedOut: boolean;
  retried: boolean;
  done: boolean;
  proxyReq: ClientRequest | undefined;
  responseTimer: NodeJS.Timeout | undefined;
  connectTimer: NodeJS.Timeout | undefined;
  resolve(): void;
  reject(err: Error): void;
}

const EXCHANGE = Symbol('breakwater.exchange');
type WithExchange = IncomingMessage & { [EXCHANGE]?: Exchange };

/** Idempotent methods a stale keep-alive socket may be retried for, once, when they carry no body. */
const RETRY_SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Builds the forwarder of one upstream on http-proxy-middleware. The library's defaults are
 * replaced where a gateway needs something else: it has no timeouts of its own, its error
 * responder maps every failure to 504, and its response writer copies hop-by-hop headers.
 * So: our own connect and response timers (told apart by flags, since a destroyed socket
 * looks like a reset), our own classification, and `selfHandleResponse` to relay answers.
 */
export function createForwarder(upstream: UpstreamConfig): Forwarder {
  const isHttps = upstream.url.startsWith('https:');
  const agentOptions = {
    keepAlive: true,
    // Below the 5 s keep-alive timeout most servers use, so the upstream rarely closes a socket we are about to reuse.
    timeout: 4000,
    maxFreeSockets: 256,
    scheduling: 'lifo' as const,
  };
  const agent = isHttps
    ? new https.Agent({
        ...agentOptions,
        rejectUnauthorized: upstream.tls?.rejectUnauthorized ?? true,
        ...(upstream.tls?.ca ? { ca: upstream.tls.ca } : {}),
        ...(upstream.tls?.servername ? { servername: upstream.tls.servername } : {}),
      })
    : new http.Agent(agentOptions);

  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: upstream.url,
    changeOrigin: true,
    agent,
    xfwd: false,
    selfHandleResponse: true,
    ejectPlugins: true,
    plugins: [
      (server) => {
        server.on('proxyReq', (proxyReq, req) => onProxyReq(proxyReq, req));
        server.on('proxyRes', (proxyRes, req) => onProxyRes(proxyRes, req));
        server.on('error', (err, req) => onError(err, req as IncomingMessage));
        server.on('econnreset', (_err, req) => callerGone(exchangeOf(req)));
      },
    ],
  });

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
    const socket = proxyReq.socket as Socket | null;
    if (socket && socket.connecting) {
      x.connectTimer = setTimeout(() => {
        x.connectTimedOut = true;
        proxyReq.destroy(new Error('connect timeout'));
      }, upstream.connectTimeoutMs);
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

  function onProxyRes(proxyRes: IncomingMessage, req: IncomingMessage): void {
    const x = exchangeOf(req);
    if (!x || x.done) {
      proxyRes.destroy();
      return;
    }
    clearTimeout(x.responseTimer);
    const status = proxyRes.statusCode ?? 502;
    const headers = { ...proxyRes.headers };
    stripHopByHop(headers);
    // The caller gets the request id the gateway chose, whatever the upstream echoes.
    delete headers['x-request-id'];
    const { res } = x;
    res.statusCode = status;
    if (proxyRes.statusMessage) res.statusMessage = proxyRes.statusMessage;
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value);
    const failedStatus = upstream.failureStatuses.includes(status);
    // After the headers, timeoutMs bounds every silence in the body as well: an upstream that
    // stops sending mid-body must not hold the caller forever. Time the caller itself takes to
    // read (back-pressure) is not the upstream's silence.
    x.responseTimer = setTimeout(() => {
      if (res.writableNeedDrain) return void x.responseTimer?.refresh();
      x.responseTimedOut = true;
      proxyRes.destroy();
    }, upstream.timeoutMs);
    proxyRes.on('data', () => x.responseTimer?.refresh());
    // A body cut short must never look complete: on an early close, destroy the caller's connection.
    proxyRes.once('close', () => {
      if (x.done) return;
      if (!proxyRes.complete) {
        res.destroy();
        finish(x, new CountedFailure(x.responseTimedOut ? 'timeout' : 'failure'));
      }
    });
    proxyRes.once('end', () => {
      clearTimeout(x.responseTimer);
      if (x.done) return;
      res.once('finish', () => finish(x, failedStatus ? new CountedFailure('failure') : undefined));
    });
    proxyRes.pipe(res);
  }

  function onError(err: Error, req: IncomingMessage): void {
    const x = exchangeOf(req);
    if (!x || x.done) return;
    const code = (err as NodeJS.ErrnoException).code;
    if (x.res.writableEnded || x.res.destroyed) return callerGone(x);
    // A keep-alive socket the upstream had already closed: nothing was processed there, and
    // a bodyless idempotent request may safely go again on a fresh connection, once.
    if (!x.retried && x.proxyReq?.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE') && !x.res.headersSent
      && RETRY_SAFE.has(x.req.method ?? '') && !hasBody(x)) {
      x.retried = true;
      x.proxyReq = undefined;
      x.connected = false;
      void proxy(x.req, x.res);
      return;
    }
    const c = classifyFailure({ code, connectTimedOut: x.connectTimedOut, responseTimedOut: x.responseTimedOut, connected: x.connected });
    x.fail(new GatewayError(c.code, { forwarded: c.forwarded, upstream: upstream.name, detail: detailOf(c.code, upstream), cause: err }));
    finish(x, new CountedFailure(c.code === 'UPSTREAM_TIMEOUT' ? 'timeout' : 'failure'));
  }

  function callerGone(x: Exchange | undefined): void {
    if (!x || x.done) return;
    x.proxyReq?.destroy();
    finish(x, new IgnoredOutcome('caller went away'));
  }

  function finish(x: Exchange, failure?: Error): void {
    if (x.done) return;
    x.done = true;
    clearTimeout(x.responseTimer);
    clearTimeout(x.connectTimer);
    // Assigning, not `delete`: deleting a property drops the request object into slow dictionary mode.
    (x.req as WithExchange)[EXCHANGE] = undefined;
    if (failure) x.reject(failure);
    else x.resolve();
  }

  return {
    forward(request: ExchangeRequest): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const x: Exchange = {
          req: request.req,
          res: request.res,
          body: request.body,
          fail: request.fail,
          connected: false,
          connectTimedOut: false,
          responseTimedOut: false,
          retried: false,
          done: false,
          proxyReq: undefined,
          responseTimer: undefined,
          connectTimer: undefined,
          resolve,
          reject,
        };
        const { req, res } = x;
        (req as WithExchange)[EXCHANGE] = x;
        stripHopByHop(req.headers);
        // Node's server already answered the caller's `Expect: 100-continue`, and the body is sent
        // in one go. Passed on, it would also make http-proxy skip its 'proxyReq' event, so no
        // connect timer would run and a reset would be misread as "nothing was forwarded".
        delete req.headers.expect;
        if (x.body) {
          req.headers['content-length'] = String(x.body.length);
          // The body was read to enforce maxBodyBytes before forwarding; http-proxy pipes
          // `req` into the upstream request, so this request's pipe hands over the buffer.
          const body = x.body;
          req.pipe = (<T extends NodeJS.WritableStream>(dest: T): T => {
            dest.end(body);
            return dest;
          }) as typeof req.pipe;
        }
        x.responseTimer = setTimeout(() => {
          // timeoutMs runs from the start, so it can expire while the connection is still being
          // made (connectTimeoutMs >= timeoutMs): then no byte was sent, and it is a connect timeout.
          if (x.connected) x.responseTimedOut = true;
          else x.connectTimedOut = true;
          if (x.proxyReq) x.proxyReq.destroy(new Error('response timeout'));
          else onError(Object.assign(new Error('response timeout'), { code: 'ETIMEDOUT' }), req);
        }, upstream.timeoutMs);
        res.once('close', () => {
          if (!res.writableFinished) callerGone(x);
        });
        void proxy(req, res);
      });
    },
    close(): void {
      agent.destroy();
    },
  };
}

function hasBody(x: Exchange): boolean {
  return x.body !== undefined || (x.req.headers['content-length'] !== undefined && x.req.headers['content-length'] !== '0');
}

/** Caller-facing detail: names the upstream, never its address. */
function detailOf(code: string, upstream: UpstreamConfig): string {
  switch (code) {
    case 'UPSTREAM_UNREACHABLE': return `Upstream "${upstream.name}" could not be reached; the request was not sent.`;
    case 'UPSTREAM_TIMEOUT': return `Upstream "${upstream.name}" sent no response headers within ${upstream.timeoutMs} ms.`;
    case 'UPSTREAM_TLS_ERROR': return `The TLS handshake with upstream "${upstream.name}" failed; the request was not sent.`;
    case 'UPSTREAM_BAD_RESPONSE': return `Upstream "${upstream.name}" answered with invalid HTTP.`;
    default: return `The connection to upstream "${upstream.name}" was lost before its answer was complete.`;
  }
}
