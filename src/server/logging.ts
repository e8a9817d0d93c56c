import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import { contextOf } from './request-context';

/** Builds the process logger; `destination` is injectable so tests can read the lines. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'breakwater' },
      // Headers are not logged by default; if a debug serializer adds them, secrets stay out.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/**
 * One JSON line per request (SPEC §9) through pino-http, with a deliberately small shape:
 * pino-http's default serializers copy every header and cost several µs per request.
 */
export function createRequestLogger(logger: Logger): HttpLogger<IncomingMessage, ServerResponse> {
  return pinoHttp({
    logger,
    genReqId: (req) => contextOf(req)?.requestId ?? '',
    customAttributeKeys: { reqId: 'requestId', responseTime: 'durationMs' },
    quietReqLogger: true,
    wrapSerializers: false,
    serializers: {
      req: (req: IncomingMessage) => {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        return { method: req.method, path: q === -1 ? url : url.slice(0, q) };
      },
      res: (res: ServerResponse) => ({ status: res.statusCode }),
      err: pino.stdSerializers.err,
    },
    // Called when the request starts (nothing known yet) and when it ends.
    customProps: (req) => {
      const ctx = contextOf(req);
      if (!ctx?.route && !ctx?.code) return undefined as unknown as object;
      return { route: ctx.route, upstream: ctx.upstream, code: ctx.code, breaker: ctx.breaker };
    },
    // A 5xx answer is not an exception of the gateway's; keep pino-http's synthetic Error and its stack out of the line.
    customErrorObject: (_req, _res, _err, val: Record<string, unknown>) => {
      const { err: _drop, ...rest } = val;
      return rest;
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'warn' : 'info'),
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
  });
}
