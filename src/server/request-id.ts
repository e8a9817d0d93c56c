import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const VALID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-Id when it is well-formed (SPEC §5), otherwise a new one; never rejected. */
export function requestIdOf(req: IncomingMessage): string {
  return acceptedRequestId(req.headers['x-request-id']);
}

/** `given` when it is a well-formed request id, otherwise a new one. */
export function acceptedRequestId(given: string | string[] | undefined): string {
  return typeof given === 'string' && VALID.test(given) ? given : randomUUID();
}
