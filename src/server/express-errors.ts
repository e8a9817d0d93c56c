import type { ErrorRequestHandler } from 'express';
import { GatewayError, isGatewayError } from '../errors/gateway-error';
import { sendProblem } from '../errors/problem';
import { contextOf } from './request-context';

/**
 * Express's last error handler: whatever an Express route or Express itself throws
 * (a malformed JSON body, a body over the size limit, a bug) leaves as a problem from
 * the catalog, rendered by the same function as the lean proxy path.
 */
export function problemErrorHandler(): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const ctx = contextOf(req);
    const gatewayError = isGatewayError(err) ? err : fromExpress(err);
    if (ctx) ctx.code = gatewayError.code;
    if (gatewayError.code === 'INTERNAL_ERROR') req.log?.error({ err }, 'internal error');
    sendProblem(res, gatewayError, req, ctx?.requestId ?? String(res.getHeader('x-request-id') ?? ''));
  };
}

function fromExpress(err: unknown): GatewayError {
  const e = err as { status?: number; statusCode?: number; type?: string; allow?: string };
  const status = e.status ?? e.statusCode;
  if (status === 413) return new GatewayError('PAYLOAD_TOO_LARGE', { detail: 'The request body is too large.' });
  if (status === 405) return new GatewayError('METHOD_NOT_ALLOWED', { detail: 'Method not allowed here.', headers: { Allow: e.allow ?? 'GET, HEAD' } });
  if (status === 404) return new GatewayError('ROUTE_NOT_FOUND', { detail: 'No such endpoint.' });
  if (status !== undefined && status >= 400 && status < 500) return new GatewayError('INVALID_REQUEST', { detail: 'The request is malformed.' });
  return new GatewayError('INTERNAL_ERROR', { cause: err, detail: 'The gateway failed to handle this request.' });
}
