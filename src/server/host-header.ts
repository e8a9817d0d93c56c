import type { IncomingMessage } from 'node:http';

/**
 * RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host header. Node itself would answer
 * a missing one with a bare 400 (not a problem) and silently keeps the first of several, so
 * both listeners are built with `requireHostHeader: false` and check here instead. Returns
 * what is wrong, or null.
 */
export function hostHeaderProblem(req: IncomingMessage): string | null {
  if (req.headers.host === undefined) {
    return req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 ? 'an HTTP/1.1 request needs a Host header' : null;
  }
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).length === 4 && (raw[i] as string).toLowerCase() === 'host') hosts++;
  return hosts > 1 ? 'more than one Host header' : null;
}
