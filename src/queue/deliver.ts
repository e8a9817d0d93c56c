import http, { type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { UpstreamConfig } from '../config/types';
import type { ErrorCode } from '../errors/catalog';
import { classifyFailure } from '../errors/classify';
import { BreakerRejection, CountedFailure } from '../upstreams/breaker';
import { pickTarget } from '../upstreams/balancer';
import type { Upstream } from '../upstreams/registry';
import type { KeptResponse, QueueMessage } from './store';
import { parseRetryAfterMs } from '../core/retry-after';
import { failureDetail } from '../errors/failure-detail';

/**
 * THE SEAM between queued delivery and the transport. A delivery is one attempt to the
 * route's upstream through that upstream's breaker, with no caller waiting on a response.
 * Today this file makes that attempt itself with node:http(s): connectTimeoutMs and
 * timeoutMs as for direct traffic, hop-by-hop headers stripped, the upstream's `headers`
 * added, `Idempotency-Key` set, failures classified by errors/classify.ts. Once the
 * transport of the failover work (one attempt to one target, no caller response) has
 * landed, `deliverOnce` should call it instead; the worker sees only `Deliverer`.
 * (The transport has landed, src/proxy/transport.ts; what is done so far is the per-target
 * part: each delivery goes to one target of the upstream, chosen as for direct traffic,
 * through that target's breaker.)
 */

/** What one delivery attempt came to. */
export type DeliveryOutcome =
  /** The upstream answered (any status); the body is kept up to KEEP_BODY_BYTES. */
  | { readonly kind: 'answer'; readonly response: KeptResponse; readonly retryAfterMs: number | null }
  /** A failure of the gateway's catalog (unreachable, timeout, connection lost, …). */
  | { readonly kind: 'failure'; readonly code: ErrorCode; readonly forwarded: boolean; readonly detail: string }
  /** The breaker refused: nothing was sent, so no attempt was spent. */
  | { readonly kind: 'refused'; readonly retryAtMs: number | null; readonly detail: string }
  /** The gateway itself stopped the attempt (drain deadline): its outcome is unknown. */
  | { readonly kind: 'aborted' };

export interface Deliverer {
  /** One attempt of `message` to `upstream`; never rejects. */
  deliverOnce(message: QueueMessage, upstream: Upstream, signal?: AbortSignal): Promise<DeliveryOutcome>;
  close(): void;
}

/** How much of an upstream's answer GET /messages/{id} keeps. */
export const KEEP_BODY_BYTES = 64 * 1024;

/** Never sent on from a stored request: hop-by-hop (RFC 9110 §7.6.1) or set here for each attempt. */
const NOT_SENT = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection', 'expect', 'host', 'content-length', 'idempotency-key']);
/** Response headers not kept: hop-by-hop. */
const NOT_KEPT = new Set(['connection', 'keep-alive', 'transfer-encoding', 'trailer', 'upgrade', 'proxy-connection']);

export function createDeliverer(): Deliverer {
  const agents = new Map<string, http.Agent>();
  const agentOf = (u: UpstreamConfig): http.Agent => {
    let agent = agents.get(u.url);
    if (!agent) {
      agent = u.url.startsWith('https:')
        ? new https.Agent({ keepAlive: true, timeout: 3500, rejectUnauthorized: u.tls?.rejectUnauthorized ?? true, ...(u.tls?.ca ? { ca: u.tls.ca } : {}), ...(u.tls?.servername ? { servername: u.tls.servername } : {}) })
        : new http.Agent({ keepAlive: true, timeout: 3500 });
      agents.set(u.url, agent);
    }
    return agent;
  };

  return {
    deliverOnce(message, upstream, signal) {
      // One target, as direct traffic picks it: available, the least loaded of two.
      const target = pickTarget(upstream, 0) ?? (upstream.targets[0] as NonNullable<ReturnType<typeof pickTarget>>);
      const config = target.config;
      const refused = target.breaker.refusal();
      if (refused) return Promise.resolve(refusedOutcome(upstream, refused));
      let outcome: DeliveryOutcome | undefined;
      const exchange = async (): Promise<DeliveryOutcome> => {
        let result = await attempt(message, config, agentOf(config), false, signal);
        // A kept-alive socket the upstream had closed: nothing reached it; once more on a new connection.
        if (result.kind === 'stale') result = await attempt(message, config, undefined, true, signal);
        outcome = result.kind === 'stale' ? failure('UPSTREAM_CONNECTION_LOST', true, config) : result;
        if (outcome.kind === 'failure') throw new CountedFailure(outcome.code === 'UPSTREAM_TIMEOUT' ? 'timeout' : 'failure');
        if (outcome.kind === 'answer' && upstream.config.failureStatuses.includes(outcome.response.status)) throw new CountedFailure('failure');
        return outcome;
      };
      return target.breaker.run(exchange).then(
        (o) => o,
        (err: unknown) => {
          if (outcome) return outcome;
          if (err instanceof BreakerRejection) return refusedOutcome(upstream, err);
          return failure('INTERNAL_ERROR', true, upstream.config);
        },
      );
    },
    close() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}

function refusedOutcome(upstream: Upstream, err: BreakerRejection): DeliveryOutcome {
  return {
    kind: 'refused',
    retryAtMs: err.retryAtMs,
    detail: err.kind === 'open' ? `The circuit breaker of upstream "${upstream.name}" is open.` : `Upstream "${upstream.name}" already has ${upstream.config.maxConcurrent} requests in flight.`,
  };
}

function failure(code: ErrorCode, forwarded: boolean, u: UpstreamConfig, afterHead = false): DeliveryOutcome & { kind: 'failure' } {
  return { kind: 'failure', code, forwarded, detail: code === 'INTERNAL_ERROR' ? 'The gateway failed to make this delivery attempt.' : failureDetail(code, u.name, u.timeoutMs, afterHead) };
}

/** The headers of one attempt: the stored ones less hop-by-hop, then the gateway's own, then the upstream's `headers`. */
export function attemptHeaders(message: QueueMessage, u: UpstreamConfig, target: URL): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const own = new Set(Object.keys(u.headers ?? {}).map((n) => n.toLowerCase()));
  const nominated = new Set<string>();
  for (const [name, value] of message.request.headers) if (name.toLowerCase() === 'connection') for (const t of value.split(',')) nominated.add(t.trim().toLowerCase());
  for (const [name, value] of message.request.headers) {
    const lower = name.toLowerCase();
    if (NOT_SENT.has(lower) || nominated.has(lower) || own.has(lower) || lower === 'proxy-authorization') continue;
    const prev = out[lower];
    out[lower] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }
  out.host = target.host;
  out['content-length'] = String(message.request.body.length);
  out['idempotency-key'] = message.idempotencyKey ?? message.id;
  for (const [name, value] of Object.entries(u.headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}

type Attempt = DeliveryOutcome | { kind: 'stale' };

/** One HTTP exchange; resolves with its outcome, never rejects. */
function attempt(message: QueueMessage, u: UpstreamConfig, agent: http.Agent | undefined, fresh: boolean, signal?: AbortSignal): Promise<Attempt> {
  const target = new URL(u.url);
  const isHttps = target.protocol === 'https:';
  const base = target.pathname === '/' ? '' : target.pathname;
  return new Promise<Attempt>((resolve) => {
    let connected = false;
    let connectTimedOut = false;
    let responseTimedOut = false;
    let responded = false;
    let settled = false;
    let res: IncomingMessage | undefined;
    const done = (o: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(responseTimer);
      signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const options: https.RequestOptions = {
      protocol: target.protocol,
      hostname: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port || (isHttps ? 443 : 80),
      method: message.request.method,
      path: base + message.request.path,
      headers: attemptHeaders(message, u, target),
      setHost: false,
      ...(agent ? { agent } : { agent: false }),
      ...(isHttps && !agent ? { rejectUnauthorized: u.tls?.rejectUnauthorized ?? true, ...(u.tls?.ca ? { ca: u.tls.ca } : {}), ...(u.tls?.servername ? { servername: u.tls.servername } : {}) } : {}),
    };
    const req: ClientRequest = (isHttps ? https : http).request(options);
    const onAbort = (): void => {
      req.destroy();
      done({ kind: 'aborted' });
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const connectTimer = setTimeout(() => {
      connectTimedOut = true;
      req.destroy(new Error('connect timeout'));
    }, u.connectTimeoutMs);
    // timeoutMs: until the response headers, then for every silence in the body (as for direct traffic).
    const responseTimer = setTimeout(() => {
      if (connected) responseTimedOut = true;
      else connectTimedOut = true;
      if (res) res.destroy();
      req.destroy(new Error('response timeout'));
    }, u.timeoutMs);
    req.on('socket', (socket: Socket) => {
      if (!socket.connecting) {
        connected = true;
        clearTimeout(connectTimer);
        return;
      }
      socket.once(isHttps ? 'secureConnect' : 'connect', () => {
        connected = true;
        clearTimeout(connectTimer);
      });
    });
    req.on('response', (response) => {
      res = response;
      responded = true;
      responseTimer.refresh();
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      response.on('data', (chunk: Buffer) => {
        responseTimer.refresh();
        if (kept >= KEEP_BODY_BYTES) return void (truncated = true);
        const part = chunk.length > KEEP_BODY_BYTES - kept ? chunk.subarray(0, KEEP_BODY_BYTES - kept) : chunk;
        if (part.length < chunk.length) truncated = true;
        chunks.push(part);
        kept += part.length;
      });
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status < 200 || status > 599) return done(failure('UPSTREAM_BAD_RESPONSE', true, u));
        done({ kind: 'answer', response: keptResponse(response, Buffer.concat(chunks, kept), truncated), retryAfterMs: parseRetryAfterMs(response.headers['retry-after']) });
      });
      response.on('close', () => {
        if (!response.complete) fail(Object.assign(new Error('response closed before its end'), { code: 'ECONNRESET' }));
      });
      response.on('error', fail);
    });
    req.on('error', fail);
    function fail(err: NodeJS.ErrnoException): void {
      if (settled) return;
      const code = err.code;
      if (!fresh && !responded && req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) return done({ kind: 'stale' });
      const c = classifyFailure({ code, connectTimedOut, responseTimedOut, connected });
      done(failure(c.code, c.forwarded, u, responded));
    }
    req.end(message.request.body);
  });
}

function keptResponse(res: IncomingMessage, body: Buffer, truncated: boolean): KeptResponse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined || NOT_KEPT.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const text = body.toString('utf8');
  const utf8 = Buffer.from(text, 'utf8').equals(body);
  return {
    status: res.statusCode ?? 0,
    headers,
    body: utf8 ? text : body.toString('base64'),
    ...(utf8 ? {} : { bodyEncoding: 'base64' as const }),
    ...(truncated ? { truncated: true } : {}),
  };
}
