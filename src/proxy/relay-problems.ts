import type { Clock } from '../core/clock';
import { retryAfterSeconds } from '../core/retry-after';
import { GatewayError } from '../errors/gateway-error';
import { BreakerRejection } from '../upstreams/breaker';
import type { Upstream } from '../upstreams/upstream';
import type { AttemptFailure } from './attempt';
import { failureDetail } from '../errors/failure-detail';

/*
 * The problems the relay answers with (docs/errors.md): their wording names the
 * upstream, never an address.
 */

/** Every target refused the call at admission: nothing was sent. */
export function refusal(err: BreakerRejection, u: Upstream, clock: Clock): GatewayError {
  return err.kind === 'open'
    ? new GatewayError('CIRCUIT_OPEN', {
        upstream: u.name,
        detail: `The circuit breaker of upstream "${u.name}" is open; the request was not sent.`,
        retryAfterSeconds: retryAfterSeconds(err.retryAtMs, clock),
      })
    : new GatewayError('GATEWAY_OVERLOADED', {
        upstream: u.name,
        detail: `Upstream "${u.name}" already has ${u.config.maxConcurrent} requests in flight.`,
        retryAfterSeconds: 1,
      });
}

/** A sticky session's target is lost (`onLost: fail`); the answer clears the cookie. */
export function sessionLost(upstream: string, lost: 'down' | 'restarted', clearCookie: string): GatewayError {
  return new GatewayError('SESSION_LOST', {
    upstream,
    detail: lost === 'down'
      ? `The instance of upstream "${upstream}" holding this session is unavailable; the session is lost. Nothing was forwarded.`
      : `The instance of upstream "${upstream}" holding this session restarted; the session is lost. Nothing was forwarded.`,
    headers: { 'Set-Cookie': clearCookie },
  });
}

/** The last attempt's failure, for the whole request: `forwarded` if any attempt may have reached a target. */
export function upstreamFailure(f: AttemptFailure, u: Upstream, attempts: number, forwarded: boolean): GatewayError {
  return new GatewayError(f.code, {
    forwarded,
    upstream: u.name,
    detail: attempts === 1 ? failureDetail(f.code, u.name, u.config.timeoutMs, f.afterHead) : `${failureDetail(f.code, u.name, u.config.timeoutMs, f.afterHead, forwarded)} ${attempts} targets were tried.`,
    cause: f.cause,
    extra: { attempts },
    ...(f.code === 'GATEWAY_OVERLOADED' ? { retryAfterSeconds: 1 } : {}),
  });
}

/** An open breaker explains a refusal better than a full one; of two open ones, the sooner trial. */
export function betterRefusal(a: BreakerRejection | undefined, b: BreakerRejection): BreakerRejection {
  if (a === undefined) return b;
  if (a.kind !== b.kind) return a.kind === 'open' ? a : b;
  if (a.retryAtMs === null) return b;
  return b.retryAtMs !== null && b.retryAtMs < a.retryAtMs ? b : a;
}
