import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { UpstreamConfig } from '../config/types';
import { lostToStall } from '../core/stall';
import { classifyFailure } from '../errors/classify';
import { Attempt, AttemptFailure, BodySource, invalidResponse, NO_BODY, targetOf, type AttemptSink } from './attempt';
import { announcesBody } from './headers';
import { createTargetAgent, proxyServerFor } from './target-agent';

/** One target's transport: sends attempts; `close()` frees its kept-alive sockets. */
export interface Transport {
  /**
   * Sends the request (its url, method and headers as they are now, `body` in one piece) to
   * the target. Reports to `sink`; `abort()` ends it silently.
   */
  send(req: IncomingMessage, body: Buffer | undefined, sink: AttemptSink): Attempt;
  /** Stops the attempt and reports nothing more (the caller went away, or the answer is not wanted). */
  abort(attempt: Attempt): void;
  close(): void;
}

/** Idempotent methods a stale keep-alive socket may be retried for, once, when they carry no body. */
const RETRY_SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Response headers at which Node's client starts dropping them (its parser's 2,000 entries). */
const MAX_RESPONSE_HEADERS = 1000;


/**
 * The transport to one target. http-proxy-middleware creates and configures the proxy server
 * (http-proxy) and hands it over through its documented plugin hook; each attempt then goes
 * to that server's `web()` with options worked out once per target. That skips the
 * middleware's per-request wrapper (three awaits, an options copy and a parse of the target
 * URL): about 25 µs of CPU per request on the benchmark's VM.
 * What a gateway needs beyond the library: its own connect and response timers (told apart by
 * flags, since a destroyed socket looks like a reset), its own failure classification, and
 * `selfHandleResponse`, so that the answer goes to the sink, not to a response.
 */
export function createTransport(upstream: UpstreamConfig, url: string): Transport {
  const isHttps = url.startsWith('https:');
  const target = targetOf(url);
  const { agent, stopSweep } = createTargetAgent(upstream, isHttps, target.hostname);
  const proxyServer = proxyServerFor(url);
  /** The attempt in flight for each request (one at a time: retries are sequential). */
  const byReq = new Map<IncomingMessage, Attempt>();
  const byRes = new Map<IncomingMessage, Attempt>();
  proxyServer.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => onProxyReq(proxyReq, req));
  proxyServer.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) => onProxyRes(proxyRes, req));
  // The caller's socket is gone: its own side (the relay) hears of it and ends the attempt.
  proxyServer.on('econnreset', (_err: Error, req: IncomingMessage) => {
    const a = byReq.get(req);
    if (a) abort(a);
  });
  /*
   * http-proxy wants a response object to pass around; with selfHandleResponse it only reads
   * `headersSent` and `finished` from it. One inert response per transport stands in, so the
   * caller's own never reaches the library.
   */
  const inert = new http.ServerResponse(new http.IncomingMessage(new Socket()));

  const baseOptions = {
    target,
    changeOrigin: true,
    agent,
    xfwd: false,
    selfHandleResponse: true,
  };
  const bodylessOptions = { ...baseOptions, buffer: NO_BODY };

  function start(a: Attempt): void {
    // http-proxy pipes `options.buffer` into the target request.
    const options = a.body === undefined ? bodylessOptions : { ...baseOptions, buffer: new BodySource(a.body) };
    a.timer = setTimeout(onDeadline, upstream.timeoutMs, a);
    a.timerDueAt = performance.now() + upstream.timeoutMs;
    proxyServer.web(a.req, inert, options, onError);
  }

  function onProxyReq(proxyReq: ClientRequest, req: IncomingMessage): void {
    const a = byReq.get(req);
    if (!a || a.done) {
      proxyReq.destroy();
      return;
    }
    a.proxyReq = proxyReq;
    // Without a listener Node destroys the socket of an unasked-for 101 and the request never
    // settles; with one, it is answered as the invalid response it is.
    proxyReq.on('upgrade', onUpgrade);
    const socket = proxyReq.socket as Socket | null;
    if (socket && socket.connecting) {
      a.connectTimer = setTimeout(onConnectTimeout, upstream.connectTimeoutMs, a);
      a.connectDueAt = performance.now() + upstream.connectTimeoutMs;
      // For https the connection is up only after the TLS handshake (connectTimeoutMs covers
      // both), and no request byte is written before it: a stalled handshake is unreachable.
      socket.once(isHttps ? 'secureConnect' : 'connect', () => {
        a.connected = true;
        clearTimeout(a.connectTimer);
      });
    } else {
      a.connected = true;
    }
  }

  function onConnectTimeout(a: Attempt): void {
    // Fired late: our process was stalled, and the connection may stand unread in the kernel.
    const lost = a.connectGraceGiven ? 0 : lostToStall(a.connectDueAt, performance.now(), upstream.connectTimeoutMs);
    if (lost > 0) {
      a.connectGraceGiven = true;
      a.connectTimer = setTimeout(onConnectTimeout, lost, a);
      return;
    }
    a.connectTimedOut = true;
    a.proxyReq?.destroy(new Error('connect timeout'));
  }

  /** timeoutMs ran out: before the headers, the target is too slow; after them, its body stalled. */
  function onDeadline(a: Attempt): void {
    if (a.done) return;
    // Fired late: our process was stalled, and the target's answer may lie unread in the
    // socket (due timers run before pending I/O is read). Wait once for the time lost.
    const lost = a.timerGraceGiven ? 0 : lostToStall(a.timerDueAt, performance.now(), upstream.timeoutMs);
    if (lost > 0) {
      a.timerGraceGiven = true;
      a.timerIsGrace = true;
      a.timer = setTimeout(onDeadline, lost, a);
      return;
    }
    const proxyRes = a.proxyRes;
    if (proxyRes === undefined) {
      // timeoutMs runs from the start, so it can expire while the connection is still being
      // made (connectTimeoutMs >= timeoutMs): then no byte was sent, and it is a connect timeout.
      if (a.connected) a.responseTimedOut = true;
      else a.connectTimedOut = true;
      // A request already destroyed emits no error again: then the timeout is reported here.
      if (a.proxyReq && !a.proxyReq.destroyed) a.proxyReq.destroy(new Error('response timeout'));
      else onError(Object.assign(new Error('response timeout'), { code: 'ETIMEDOUT' }), a.req);
      return;
    }
    // The body is all here and the caller is still reading it: that is not the target's silence.
    if (proxyRes.complete) return;
    // Paused by the sink: the time the caller takes to read (back-pressure) is not the target's silence either.
    if (proxyRes.isPaused()) return refreshDeadline(a);
    a.responseTimedOut = true;
    proxyRes.destroy();
  }

  function onProxyRes(proxyRes: IncomingMessage, req: IncomingMessage): void {
    const a = byReq.get(req);
    if (!a || a.done) {
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
    a.proxyRes = proxyRes;
    refreshDeadline(a);
    byRes.set(proxyRes, a);
    // Shared listeners: no closure per request.
    proxyRes.on('data', onBodyData);
    proxyRes.on('end', onBodyEnd);
    proxyRes.on('close', onBodyClose);
    a.sink.onHead(a, proxyRes);
  }

  function onBodyData(this: IncomingMessage, chunk: Buffer): void {
    const a = byRes.get(this);
    if (a === undefined || a.done) return;
    // After the headers, timeoutMs bounds every silence in the body as well: a target that
    // stops sending mid-body must not hold the caller forever.
    refreshDeadline(a);
    if (!a.sink.onData(a, chunk) && !a.done) this.pause();
  }

  /** timeoutMs from now. */
  function refreshDeadline(a: Attempt): void {
    if (a.timerIsGrace) {
      clearTimeout(a.timer);
      a.timer = setTimeout(onDeadline, upstream.timeoutMs, a);
      a.timerIsGrace = false;
    } else {
      a.timer?.refresh();
    }
    a.timerDueAt = performance.now() + upstream.timeoutMs;
  }

  function onBodyEnd(this: IncomingMessage): void {
    const a = byRes.get(this);
    if (a === undefined || a.done) return;
    finish(a);
    a.sink.onEnd(a);
  }

  /** The response closed before its end: the target went away, or timeoutMs cut it. */
  function onBodyClose(this: IncomingMessage): void {
    const a = byRes.get(this);
    if (a === undefined || a.done || this.complete) return;
    onError(new Error('the upstream response closed before its end'), a.req);
  }

  /** The target switched protocols though nobody asked it to. */
  function onUpgrade(this: ClientRequest, _res: IncomingMessage, socket: Socket): void {
    socket.destroy();
    for (const a of byReq.values()) if (a.proxyReq === this) return onError(invalidResponse('unrequested 101 Switching Protocols'), a.req);
  }

  function onError(err: Error, req: IncomingMessage): void {
    const a = byReq.get(req);
    if (!a || a.done) return;
    const code = (err as NodeJS.ErrnoException).code;
    // The answer had arrived whole (a 204, or a body of its full length) and the parser choked
    // on bytes after it: the sink gets that answer; the socket is not reused.
    if (a.proxyRes?.complete) return;
    // A keep-alive socket the target had already closed: nothing was processed there, and
    // a bodyless idempotent request may safely go again on a fresh connection, once.
    if (!a.resent && a.proxyReq?.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE') && a.proxyRes === undefined
      && RETRY_SAFE.has(a.req.method ?? '') && a.body === undefined && !announcesBody(a.req.headers)) {
      a.resent = true;
      a.proxyReq = undefined;
      a.connected = false;
      a.timerGraceGiven = a.connectGraceGiven = a.timerIsGrace = false;
      clearTimeout(a.timer);
      clearTimeout(a.connectTimer);
      start(a);
      return;
    }
    const c = classifyFailure({ code, connectTimedOut: a.connectTimedOut, responseTimedOut: a.responseTimedOut, connected: a.connected, sentEarlier: a.resent });
    const afterHead = a.proxyRes !== undefined;
    finish(a);
    a.proxyReq?.destroy();
    a.sink.onFailure(a, new AttemptFailure(c.code, c.forwarded, afterHead, c.code === 'UPSTREAM_TIMEOUT', err));
  }

  function finish(a: Attempt): void {
    a.done = true;
    clearTimeout(a.timer);
    clearTimeout(a.connectTimer);
    if (byReq.get(a.req) === a) byReq.delete(a.req);
    if (a.proxyRes) byRes.delete(a.proxyRes);
  }

  function abort(a: Attempt): void {
    if (a.done) return;
    finish(a);
    if (a.proxyRes && !a.proxyRes.complete) a.proxyRes.destroy();
    a.proxyReq?.destroy();
  }

  return {
    send(req, body, sink): Attempt {
      const a = new Attempt(req, body, sink);
      byReq.set(req, a);
      start(a);
      return a;
    },
    abort,
    close(): void {
      stopSweep();
      agent.destroy();
    },
  };
}

