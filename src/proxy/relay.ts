import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../core/clock';
import type { GatewayError } from '../errors/gateway-error';
import { anyUntried, pickTarget } from '../upstreams/balancer';
import { BreakerRejection, type Outcome, type Ticket } from '../upstreams/breaker';
import type { UpstreamRegistry } from '../upstreams/registry';
import type { Target } from '../upstreams/target';
import type { Upstream } from '../upstreams/upstream';
import { relayedResponseHeaders, stripHopByHop } from './headers';
import { allowsRetry, budgetAllows, type RetryReason } from './retry-policy';
import { betterRefusal, refusal, sessionLost, upstreamFailure } from './relay-problems';
import { isTls, StickyCookies } from './sticky';
import { AttemptFailure, invalidResponse } from './attempt';
import { Exchange, type ExchangeOwner, type Lane, type RelayContext } from './exchange';
import { createTransport } from './transport';

/** Counters the metrics subscribe to; the relay only calls them. */
export interface RelayObserver {
  /** A request went to another target after `reason` at `from`. */
  retry(upstream: string, to: string, reason: RetryReason): void;
  /** A retry the rules allowed was not sent: the retry budget was spent. */
  budgetRefused(upstream: string): void;
}

export interface RelayDeps {
  registry: UpstreamRegistry;
  clock: Clock;
  /** Answers the caller with a gateway problem (the traffic handler renders and records it). */
  fail(req: IncomingMessage, res: ServerResponse, err: GatewayError): void;
  /** Sets the forwarded headers on a request about to go upstream (once, before the first attempt). */
  prepare(req: IncomingMessage, upstream: Upstream): void;
  observer?: RelayObserver;
  random?: () => number;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * The caller's side of forwarding (docs/failover.md): picks the target, admits the call at
 * its breaker, sends attempts through the target's transport, retries on another target
 * where the rules and the budget allow, relays the answer, and renders the one problem when
 * there is none. One rule feeds every breaker: an attempt that failed, or answered with a
 * `failureStatuses` status, is a failure (a timeout: a timeout); a caller going away is
 * nothing; anything else is a success.
 */
export class Relay implements ExchangeOwner {
  private readonly lanes = new Map<string, Lane>();
  private readonly random: () => number;
  /** Exchanges by their caller's response, for the shared listeners below (no closure per request). */
  private readonly exchanges = new Map<ServerResponse, Exchange>();
  readonly onCallerDrain: (this: ServerResponse) => void;
  private readonly onCallerClose: (this: ServerResponse) => void;

  constructor(private readonly deps: RelayDeps) {
    this.random = deps.random ?? Math.random;
    const exchanges = this.exchanges;
    this.onCallerDrain = function (this: ServerResponse) {
      exchanges.get(this)?.attempt?.resume();
    };
    const callerClosed = (x: Exchange): void => this.callerClosed(x);
    this.onCallerClose = function (this: ServerResponse) {
      const x = exchanges.get(this);
      if (x) callerClosed(x);
    };
    for (const u of deps.registry.all()) {
      this.lanes.set(u.name, {
        upstream: u,
        transports: u.targets.map((t) => createTransport(u.config, t.url)),
        sticky: u.config.sticky ? new StickyCookies(u, u.config.sticky) : null,
      });
    }
  }

  /** Sends the request to a target of `upstreamName`, as `upstreamPath`; answers the caller whatever happens. */
  forward(req: IncomingMessage, res: ServerResponse, ctx: RelayContext, upstreamName: string, upstreamPath: string, body: Buffer | undefined): void {
    const lane = this.lanes.get(upstreamName) as Lane;
    const u = lane.upstream;
    ctx.breaker = u.breaker.state().value;
    let pinAnew = false;
    let moved: Exchange['moved'];
    let pinned = false;
    let chosen: { target: Target; ticket: Ticket } | BreakerRejection;
    const sticky = lane.sticky;
    const session = sticky?.read(req) ?? null;
    if (sticky && session) {
      const lost = !session.target.isAvailable() ? 'down' : session.restarted ? 'restarted' : undefined;
      if (lost === undefined) {
        pinned = sticky.settings.onLost === 'fail';
        chosen = admitAt(session.target);
      } else if (sticky.settings.onLost === 'fail') {
        return this.deps.fail(req, res, sessionLost(u.name, lost, sticky.clearCookie(isTls(req))));
      } else {
        moved = lost;
        chosen = this.choose(u, 1 << session.target.index);
        // Restarted and the only one left: the new instance it is (a new session all the same).
        if (chosen instanceof BreakerRejection && lost === 'restarted') chosen = admitAt(session.target);
      }
    } else {
      chosen = this.choose(u, 0);
    }
    if (chosen instanceof BreakerRejection) {
      ctx.breaker = u.breaker.state().value;
      return this.deps.fail(req, res, refusal(chosen, u, this.deps.clock));
    }
    if (sticky && (session === null || moved !== undefined)) pinAnew = true;
    // Only now, with a target admitted: the refusals above cost no header work.
    req.url = upstreamPath;
    // First, so that nothing set below can be stripped by a caller's `Connection` header. Also
    // drops `Expect`: Node's server already answered the caller's `Expect: 100-continue`, and
    // the body is sent in one go. Passed on, it would also make http-proxy skip its
    // 'proxyReq' event, so no connect timer would run and a reset would be misread as
    // "nothing was forwarded".
    stripHopByHop(req);
    this.deps.prepare(req, u);
    req.headers['x-request-id'] = ctx.requestId;
    if (body) req.headers['content-length'] = String(body.length);
    const x = new Exchange(this, lane, req, res, ctx, body);
    x.pinAnew = pinAnew;
    x.moved = moved;
    x.pinned = pinned;
    u.requestsInFlight++;
    this.exchanges.set(res, x);
    // 'close' comes once per response; `on` spares the once-wrapper.
    res.on('close', this.onCallerClose);
    this.start(x, chosen.target, chosen.ticket);
  }

  /** Closes every transport's kept-alive sockets. */
  close(): void {
    for (const lane of this.lanes.values()) for (const t of lane.transports) t.close();
  }

  /**
   * An available target not in `tried`, admitted at its breaker; or the refusal that explains
   * why none could be: each target refused (open, its trial under way, its concurrency limit).
   */
  private choose(u: Upstream, tried: number): { target: Target; ticket: Ticket } | BreakerRejection {
    let refused: BreakerRejection | undefined;
    for (;;) {
      const t = pickTarget(u, tried, this.random) ?? anyUntried(u, tried);
      if (t === null) break;
      tried |= 1 << t.index;
      const r = t.breaker.admit();
      if (!(r instanceof BreakerRejection)) return { target: t, ticket: r };
      refused = betterRefusal(refused, r);
    }
    return refused ?? new BreakerRejection('open', u.breaker.retryHintAt());
  }

  private start(x: Exchange, target: Target, ticket: Ticket): void {
    x.target = target;
    x.ticket = ticket;
    x.settled = false;
    x.tried |= 1 << target.index;
    x.ctx.attempts++;
    (x.ctx.targets ??= []).push(target.name);
    x.failedStatus = false;
    x.proxyRes = undefined;
    x.attemptStartedAt = this.deps.clock.now();
    x.attempt = x.lane.transports[target.index]?.send(x.req, x.body, x);
  }

  /** Feeds the current attempt's outcome to its target's breaker, once. */
  private settle(x: Exchange, outcome: Outcome): void {
    if (x.settled || x.target === undefined) return;
    x.settled = true;
    x.target.breaker.settle(x.ticket, outcome, this.deps.clock.now() - x.attemptStartedAt);
  }

  /**
   * After a failure (or a failureStatuses answer, `status`) of the current attempt: sends the
   * request to another target when the rules and the budget allow, and says whether it did.
   */
  retryAfter(x: Exchange, reason: RetryReason, forwarded: boolean): boolean {
    const u = x.lane.upstream;
    if (x.pinned || x.ctx.attempts >= u.config.retry.attempts) return false;
    if (!allowsRetry(reason, forwarded, isIdempotentOrKeyed(x.req), u.config.retry)) return false;
    if (pickTarget(u, x.tried, this.random) === null) return false;
    if (!budgetAllows(u)) {
      this.deps.observer?.budgetRefused(u.name);
      return false;
    }
    const next = this.choose(u, x.tried);
    if (next instanceof BreakerRejection) return false;
    // The answer (or what is left of the attempt) is not wanted any more.
    if (x.attempt) x.lane.transports[(x.target as Target).index]?.abort(x.attempt);
    this.settle(x, reason === 'timeout' ? 'timeout' : 'failure');
    x.forwarded ||= forwarded;
    if (!x.retrying) {
      x.retrying = true;
      u.retriesInFlight++;
    }
    this.deps.observer?.retry(u.name, next.target.name, reason);
    // A session whose target failed moves with the request (onLost: failover): say so, pin anew.
    if (x.lane.sticky && !x.pinAnew) {
      x.pinAnew = true;
      x.moved = 'down';
    }
    this.start(x, next.target, next.ticket);
    return true;
  }

  /** The current attempt failed: another target, or the problem (or a cut connection, once the caller has the head). */
  failed(x: Exchange, f: AttemptFailure): void {
    const reason: RetryReason = f.code === 'UPSTREAM_TIMEOUT' ? 'timeout' : f.code === 'UPSTREAM_CONNECTION_LOST' ? 'connection-lost' : f.forwarded ? 'other' : 'not-forwarded';
    // The gateway's own exhaustion (file descriptors, ports) is no failure of the target's:
    // its breaker must not open for it, and another target would fare no better.
    const local = f.code === 'GATEWAY_OVERLOADED';
    if (!local && !x.res.headersSent && this.retryAfter(x, reason, f.forwarded)) return;
    this.settle(x, local ? 'ignored' : f.timedOut ? 'timeout' : 'failure');
    x.forwarded ||= f.forwarded;
    const u = x.lane.upstream;
    if (x.res.headersSent) {
      // Part of the answer has gone out: a body cut short must never look complete.
      x.res.destroy();
      return;
    }
    this.deps.fail(x.req, x.res, upstreamFailure(f, u, x.ctx.attempts, x.forwarded));
  }

  /** Writes the relayed status and headers before the first body byte; false when Node refused them (the caller got a problem). */
  writeHead(x: Exchange): boolean {
    const res = x.res;
    if (res.headersSent) return true;
    const proxyRes = x.proxyRes as IncomingMessage;
    const headers = relayedResponseHeaders(proxyRes.rawHeaders, x.ctx.requestId);
    if (x.pinAnew && x.lane.sticky) headers.push('Set-Cookie', x.lane.sticky.setCookie(x.target as Target, isTls(x.req)));
    if (x.moved !== undefined) headers.push('Breakwater-Session-Moved', x.moved);
    const status = proxyRes.statusCode as number;
    try {
      if (proxyRes.statusMessage) res.writeHead(status, proxyRes.statusMessage, headers);
      else res.writeHead(status, headers);
      return true;
    } catch (err) {
      // What Node's client parser lets through but its server refuses to send (a control
      // character in the reason phrase, say) is invalid HTTP all the same.
      if (x.attempt) x.lane.transports[(x.target as Target).index]?.abort(x.attempt);
      this.failed(x, new AttemptFailure('UPSTREAM_BAD_RESPONSE', true, true, false, invalidResponse((err as Error).message)));
      return false;
    }
  }

  /** The caller's response is over: relayed completely, answered with a problem, or cut (by the caller, or by us). */
  callerClosed(x: Exchange): void {
    this.exchanges.delete(x.res);
    if (x.done) return;
    x.done = true;
    if (!x.settled) {
      if (x.res.writableFinished) this.settle(x, x.failedStatus ? 'failure' : 'success');
      else {
        if (x.attempt) x.lane.transports[(x.target as Target).index]?.abort(x.attempt);
        this.settle(x, 'ignored');
      }
    }
    const u = x.lane.upstream;
    u.requestsInFlight--;
    if (x.retrying) u.retriesInFlight--;
  }
}

function admitAt(t: Target): { target: Target; ticket: Ticket } | BreakerRejection {
  const r = t.breaker.admit();
  return r instanceof BreakerRejection ? r : { target: t, ticket: r };
}

/** RFC 9110 idempotent methods, or a request carrying `Idempotency-Key`: safe to send twice. */
function isIdempotentOrKeyed(req: IncomingMessage): boolean {
  return IDEMPOTENT.has(req.method ?? '') || req.headers['idempotency-key'] !== undefined;
}
