import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { CATALOG, type ErrorCode } from '../errors/catalog';
import { GatewayError } from '../errors/gateway-error';
import { sendProblem, toProblem } from '../errors/problem';
import { contextOf } from './request-context';
import { pathOf } from '../core/request-path';
import { acceptedRequestId, requestIdOf } from './request-id';

/** Node's parser and timeout errors → catalog codes. Anything else malformed is a 400. */
function codeOf(err: NodeJS.ErrnoException): ErrorCode {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_TIMEOUT') return 'REQUEST_TIMEOUT';
  return 'INVALID_REQUEST';
}

const DETAIL: Partial<Record<ErrorCode, string>> = {
  HEADERS_TOO_LARGE: 'The request headers exceed the size limit.',
  REQUEST_TIMEOUT: 'The request headers or body were not received in time.',
  INVALID_REQUEST: 'The request could not be parsed as HTTP/1.1 (bad framing, conflicting Content-Length and Transfer-Encoding, or invalid characters).',
};

/**
 * Answers Node's `clientError` (bad framing, smuggling attempts, oversized headers, slow
 * senders) with a problem on the raw socket, then closes it. These never reach a route,
 * so nothing reaches an upstream.
 */
export function createClientErrorHandler(logger: Logger, count: CountRefused = () => undefined): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    // A peer that reset or already went away needs no answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const current = (socket as { _httpMessage?: ServerResponse })._httpMessage;
    // A response is already under way on this socket: it cannot be replaced.
    if (current?.headersSent) {
      socket.destroy();
      return;
    }
    const code = codeOf(err);
    const ctx = current ? contextOf(current.req) : undefined;
    if (current && ctx && current.req.complete) {
      // The bad bytes came after a complete request that is being handled (forwarded, maybe):
      // answering it with this error would tell its caller nothing was sent. It gets its own
      // answer, and the connection ends there.
      current.shouldKeepAlive = false;
      logger.info({ requestId: ctx.requestId, parserError: err.code }, 'bytes after a complete request could not be parsed; the connection closes after its answer');
      return;
    }
    if (current && ctx) {
      // The head was read and a handler holds the request (a body too slow): answer through
      // its response, so the request keeps its id and path and is logged and counted once,
      // by the handler, like any other.
      ctx.code = code;
      current.shouldKeepAlive = false;
      sendProblem(current, new GatewayError(code, { detail: DETAIL[code], upstream: ctx.upstream }), current.req, ctx.requestId);
      return;
    }
    const head = headOf((err as { rawPacket?: unknown }).rawPacket);
    const requestId = acceptedRequestId(head?.requestId);
    answerOnSocket(socket, new GatewayError(code, { detail: DETAIL[code] }), head ?? NO_REQUEST, requestId);
    logLine(logger, requestId, head, code, err.code);
    count(head?.method, CATALOG[code].status, code);
  };
}

/** What of a request head can be read from bytes Node's parser refused. */
interface RawHead {
  method: string;
  url: string;
  headers: Record<string, string>;
  requestId: string | undefined;
}

/**
 * The request line and X-Request-Id from the bytes Node's parser refused (`err.rawPacket`,
 * the data it was parsing), so the problem and the log line can name the caller's path and
 * keep its id. Best effort: undefined when those bytes do not start with a request line
 * (a head sent in pieces, or a timeout, which has no packet).
 * Read by hand, in one pass, without regular expressions: these bytes come from whoever
 * connected, and a backtracking pattern over 64 KB of spaces froze the process for seconds
 * (SECURITY.md, "Regular expressions").
 */
function headOf(packet: unknown): RawHead | undefined {
  if (!Buffer.isBuffer(packet)) return undefined;
  const text = packet.toString('latin1', 0, Math.min(packet.length, 65536));
  const lineEnd = text.indexOf('\n');
  if (lineEnd === -1) return undefined;
  const line = requestLineOf(text.slice(0, text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd));
  if (!line) return undefined;
  // No header decides anything for these codes (none is retryable), so none is kept.
  return { method: line.method, url: line.url, headers: {}, requestId: headerValue(text, lineEnd + 1, 'x-request-id') };
}

/** `METHOD SP target SP HTTP/d.d`, or undefined. */
function requestLineOf(line: string): { method: string; url: string } | undefined {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || sp2 === sp1 + 1) return undefined;
  const method = line.slice(0, sp1);
  const version = line.slice(sp2 + 1);
  if (!isToken(method) || version.length !== 8 || !version.startsWith('HTTP/') || version[6] !== '.') return undefined;
  if (!isDigit(version.charCodeAt(5)) || !isDigit(version.charCodeAt(7))) return undefined;
  return { method, url: line.slice(sp1 + 1, sp2) };
}

/** The trimmed value of the first header `name` (lower case) in the head starting at `from`. */
function headerValue(text: string, from: number, name: string): string | undefined {
  let at = from;
  while (at < text.length) {
    let end = text.indexOf('\n', at);
    if (end === -1) end = text.length;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (lineEnd === at) return undefined; // the empty line: the head is over
    if (text.charCodeAt(at + name.length) === 58 /* : */ && text.slice(at, at + name.length).toLowerCase() === name) {
      return text.slice(at + name.length + 1, lineEnd).trim();
    }
    at = end + 1;
  }
  return undefined;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** RFC 9110 token characters. */
function isToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || "!#$%&'*+.^_`|~-".includes(s[i] as string);
    if (!ok) return false;
  }
  return s.length > 0;
}

/** Counts a request answered on the raw socket (Metrics.countRefused). */
export type CountRefused = (method: string | undefined, status: number, code: string) => void;

/**
 * Answers CONNECT with 400 INVALID_REQUEST and closes the connection: the gateway forwards
 * origin-form paths to configured upstreams only and never opens a tunnel (without this
 * listener, Node would close the connection without a word).
 */
export function createConnectHandler(logger: Logger, count: CountRefused = () => undefined): (req: IncomingMessage, socket: Duplex) => void {
  return (req, socket) => {
    const requestId = requestIdOf(req);
    answerOnSocket(socket, new GatewayError('INVALID_REQUEST', { detail: 'CONNECT is not supported: the gateway forwards paths to its configured upstreams and never opens a tunnel.' }), req, requestId);
    logLine(logger, requestId, req, 'INVALID_REQUEST');
    count(req.method, 400, 'INVALID_REQUEST');
  };
}

/**
 * The request's log line (SPEC §9), in the shape of every other one: `req` when its head was
 * read (never the query), `res.status`, the code, and what the HTTP parser objected to.
 */
function logLine(logger: Logger, requestId: string, req: Pick<IncomingMessage, 'method' | 'url'> | undefined, code: ErrorCode, parserError?: string): void {
  logger.info({
    requestId,
    ...(req ? { req: { method: req.method, path: req.url ? pathOf(req.url) : '' } } : {}),
    code,
    res: { status: CATALOG[code].status },
    ...(parserError ? { parserError } : {}),
  }, 'client error');
}

/** What a problem is rendered from when no request head could be read. */
const NO_REQUEST = { method: undefined, headers: {}, url: '/' };

/** Writes `err` as a complete problem response on a socket no ServerResponse owns, then ends it. */
export function answerOnSocket(socket: Duplex, err: GatewayError, req: Pick<IncomingMessage, 'method' | 'headers' | 'url'>, requestId: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const problem = toProblem(err, req, requestId);
  const body = JSON.stringify(problem);
  socket.end(
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}\r\n` +
      'Content-Type: application/problem+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\n` +
      'Cache-Control: no-store\r\n' +
      'Connection: close\r\n\r\n' +
      body,
  );
}
