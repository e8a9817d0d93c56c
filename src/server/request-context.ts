import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../errors/catalog';
import type { BreakerStateName } from '../upstreams/breaker';

/**
 * What the gateway learns about one request on its way, for logs and metrics. A class with
 * every field present from the start, so all contexts share one shape and the per-request
 * observers (log line, metrics) stay monomorphic.
 */
export class RequestContext {
  /** The path the caller asked for, without the query (req.url is rewritten for the upstream). */
  path: string | undefined = undefined;
  /** The matched route's path (never the raw request path: it would blow up metric labels). */
  route: string | undefined = undefined;
  upstream: string | undefined = undefined;
  /** Set when the gateway answered with a problem. */
  code: ErrorCode | undefined = undefined;
  /** The upstream's breaker state when the request was decided. */
  breaker: BreakerStateName | undefined = undefined;
  /** Names of the targets tried, in order (README "Logs"). */
  targets: string[] | undefined = undefined;
  /** Attempts made (each at a different target). */
  attempts = 0;
  /** On a listener with `requestCert`: the verified client certificate's subject, or null; undefined elsewhere. */
  clientCert: string | null | undefined = undefined;

  constructor(
    readonly requestId: string,
    /** performance.now() at arrival. */
    readonly startedAt: number,
  ) {}
}

const CONTEXT = Symbol('breakwater.context');
type WithContext = IncomingMessage & { [CONTEXT]?: RequestContext };

export function setContext(req: IncomingMessage, ctx: RequestContext): void {
  (req as WithContext)[CONTEXT] = ctx;
}

export function contextOf(req: IncomingMessage): RequestContext | undefined {
  return (req as WithContext)[CONTEXT];
}
