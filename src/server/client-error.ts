import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ErrorCode } from '../errors/catalog';
import { GatewayError } from '../errors/gateway-error';
import { toProblem } from '../errors/problem';

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
export function createClientErrorHandler(logger: Logger): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    // A peer that reset or already went away needs no answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // A response is already under way on this socket: it cannot be replaced.
    if ((socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const code = codeOf(err);
    const requestId = randomUUID();
    const problem = toProblem(new GatewayError(code, { detail: DETAIL[code] }), { method: undefined, headers: {}, url: '/' }, requestId);
    const body = JSON.stringify(problem);
    logger.info({ requestId, code, status: problem.status, parserError: err.code }, 'client error');
    socket.end(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}\r\n` +
        'Content-Type: application/problem+json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'Cache-Control: no-store\r\n' +
        'Connection: close\r\n\r\n' +
        body,
    );
  };
}
