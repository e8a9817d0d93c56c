import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../errors/catalog';
import type { BreakerStateName } from '../upstreams/breaker';

/** What the gateway learns about one request on its way, for logs and metrics. */
export interface RequestContext {
  requestId: string;
  /** performance.now() at arrival. */
  startedAt: number;
  /** The path the caller asked for, without the query (req.url is rewritten for the upstream). */
  path?: string;
  /** The matched route's path (never the raw request path: it would blow up metric labels). */
  route?: string;
  upstream?: string;
  /** Set when the gateway answered with a problem. */
  code?: ErrorCode;
  /** The upstream's breaker state when the request was decided. */
  breaker?: BreakerStateName;
}

const CONTEXT = Symbol('breakwater.context');
type WithContext = IncomingMessage & { [CONTEXT]?: RequestContext };

export function setContext(req: IncomingMessage, ctx: RequestContext): void {
  (req as WithContext)[CONTEXT] = ctx;
}

export function contextOf(req: IncomingMessage): RequestContext | undefined {
  return (req as WithContext)[CONTEXT];
}
