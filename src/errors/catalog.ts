/**
 * The one catalog of every error the gateway itself answers with (SPEC §4).
 * Everything else refers to an entry by its code; status, title, type URI and whether the
 * failure is transient live here and nowhere else.
 */
export interface CatalogEntry {
  /** HTTP status of the problem response. */
  readonly status: number;
  /** Short, stable, human-readable summary (RFC 9457 `title`). */
  readonly title: string;
  /** Transient failures may succeed when sent again later (subject to the `forwarded` rule). */
  readonly transient: boolean;
  /** Whether any byte of the request may have reached an upstream when this happens. */
  readonly forwarded: boolean;
}

export const CATALOG = {
  ROUTE_NOT_FOUND: { status: 404, title: 'No route matches this path', transient: false, forwarded: false },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed on this route', transient: false, forwarded: false },
  INVALID_REQUEST: { status: 400, title: 'Malformed request', transient: false, forwarded: false },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large', transient: false, forwarded: false },
  UNAUTHORIZED: { status: 401, title: 'Missing or invalid admin token', transient: false, forwarded: false },
  FORBIDDEN: { status: 403, title: 'Admin action not permitted', transient: false, forwarded: false },
  /*
   * Not 401: RFC 9110 makes a 401 carry a WWW-Authenticate challenge, and a TLS client
   * certificate is no HTTP authentication scheme. The caller must connect again with one.
   */
  CLIENT_CERT_REQUIRED: { status: 403, title: 'A verified client certificate is required', transient: false, forwarded: false },
  CIRCUIT_OPEN: { status: 503, title: 'Circuit breaker is open', transient: true, forwarded: false },
  DEPENDENCY_UNAVAILABLE: { status: 503, title: 'A required dependency is unavailable', transient: true, forwarded: false },
  UPSTREAM_UNREACHABLE: { status: 502, title: 'Upstream could not be reached', transient: true, forwarded: false },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Upstream did not answer in time', transient: true, forwarded: true },
  UPSTREAM_CONNECTION_LOST: { status: 502, title: 'Connection to upstream was lost', transient: true, forwarded: true },
  UPSTREAM_BAD_RESPONSE: { status: 502, title: 'Upstream sent an invalid HTTP response', transient: true, forwarded: true },
  UPSTREAM_TLS_ERROR: { status: 502, title: 'TLS handshake with upstream failed', transient: false, forwarded: false },
  REQUEST_TIMEOUT: { status: 408, title: 'Request was sent too slowly', transient: false, forwarded: false },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large', transient: false, forwarded: false },
  GATEWAY_OVERLOADED: { status: 503, title: 'Gateway concurrency limit reached', transient: true, forwarded: false },
  GATEWAY_SHUTTING_DOWN: { status: 503, title: 'Gateway is shutting down', transient: true, forwarded: false },
  SESSION_LOST: { status: 409, title: 'Sticky session lost', transient: false, forwarded: false },
  INTERNAL_ERROR: { status: 500, title: 'Internal gateway error', transient: true, forwarded: true },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof CATALOG;

export const ERROR_CODES = Object.freeze(Object.keys(CATALOG) as ErrorCode[]);

/** Stable, relative type URI of a code, e.g. `/problems/circuit-open`. */
export function typeUri(code: ErrorCode): string {
  return `/problems/${code.toLowerCase().replace(/_/g, '-')}`;
}
