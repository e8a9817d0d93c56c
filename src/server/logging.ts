import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import { performance } from 'node:perf_hooks';
import { contextOf } from './request-context';
import { pathOf } from '../core/request-path';
import type { RequestObserver } from './traffic';

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
      timestamp: createIsoTime(),
    },
    destination,
  );
}

/**
 * pino's `time` member as an ISO 8601 string, like `pino.stdTimeFunctions.isoTime` but at a
 * fraction of its cost: the date and time up to the second are formatted once per second,
 * and only the milliseconds per line. (A `new Date().toISOString()` per line was 1–2 % of the
 * gateway's CPU per proxied request in the profile.)
 */
export function createIsoTime(now: () => number = Date.now): () => string {
  let second = -1;
  let prefix = '';
  return () => {
    const t = now();
    const ms = t % 1000;
    const s = t - ms;
    if (s !== second) {
      second = s;
      prefix = `,"time":"${new Date(s).toISOString().slice(0, 20)}`;
    }
    return `${prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
  };
}

/**
 * The admin listener's request lines, through pino-http with the same small shape as the
 * traffic lines. pino-http creates child loggers per request (~3 µs each), which is nothing
 * at admin volumes but a tenth of the traffic path's CPU, hence `createTrafficRequestLog`.
 */
export function createRequestLogger(logger: Logger): HttpLogger<IncomingMessage, ServerResponse> {
  return pinoHttp({
    logger,
    genReqId: (req) => contextOf(req)?.requestId ?? '',
    customAttributeKeys: { reqId: 'requestId', responseTime: 'durationMs' },
    quietReqLogger: true,
    wrapSerializers: false,
    serializers: {
      req: (req: IncomingMessage) => ({ method: req.method, path: pathOf(req.url) }),
      res: (res: ServerResponse) => ({ status: res.statusCode }),
      err: pino.stdSerializers.err,
    },
    customProps: (req) => {
      const ctx = contextOf(req);
      const props = { ...(ctx?.code ? { code: ctx.code } : {}), ...(ctx?.clientCert !== undefined ? { clientCert: ctx.clientCert } : {}) };
      return (Object.keys(props).length > 0 ? props : undefined) as unknown as object;
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

/**
 * One JSON line per traffic request (SPEC §9), written when the response is over: request id,
 * route, upstream, targets tried and attempts, method, path (never the query: it may hold
 * secrets), status, code, duration, breaker state. One pino call per request; headers are never part of it.
 */
export function createTrafficRequestLog(logger: Logger): RequestObserver {
  // These lines never carry headers, so the redaction pass (a third of a line's cost) is skipped for them.
  const lines = logger.child({}, { redact: [] });
  return (ctx, req, res) => {
    const finished = res.writableFinished;
    const status = res.statusCode;
    const level = !finished || status >= 500 ? 'warn' : 'info';
    if (!lines.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = {
      requestId: ctx.requestId,
      req: { method: req.method, path: ctx.path },
      // null, not left out, where the request never got that far: every line has every field.
      route: ctx.route ?? null,
      upstream: ctx.upstream ?? null,
      // The targets tried, in order, and how many attempts that was (docs/failover.md).
      targets: ctx.targets ?? null,
      attempts: ctx.attempts,
      code: ctx.code,
      breaker: ctx.breaker ?? null,
      res: { status: finished ? status : null },
      durationMs: Math.round((performance.now() - ctx.startedAt) * 10) / 10,
    };
    // Only on a listener that asks for certificates (docs/tls.md): the subject it verified, or null.
    if (ctx.clientCert !== undefined) line.clientCert = ctx.clientCert;
    lines[level](
      line,
      finished ? 'request completed' : 'request aborted',
    );
  };
}
