import { isIP } from 'node:net';
import { z } from 'zod';
import { deliverySchema, queueSchema, routeQueueSchema, upstreamHeadersSchema } from './queue-schema';

/*
 * The configuration file's schema (SPEC §3). Every object is strict so that a typo is an
 * error, not a silently ignored key. Defaults live beside the keys they belong to.
 * `.prefault({})` makes an absent section parse as if it were empty, so nested defaults apply.
 */

const posInt = () => z.number({ error: 'expected a positive integer' }).int('expected a positive integer').positive('expected a positive integer');
const nonNegInt = () => z.number({ error: 'expected a non-negative integer' }).int('expected a non-negative integer').min(0, 'expected a non-negative integer');
const port = () => z.number({ error: 'expected a port number (0-65535)' }).int('expected a port number (0-65535)').min(0, 'expected a port number (0-65535)').max(65535, 'expected a port number (0-65535)');
const host = () => z.string({ error: 'expected a host name or address' }).min(1, 'expected a host name or address');
/*
 * Only server errors: SPEC §5 says a 4xx never counts against a breaker, and a 1xx-3xx answer
 * is no failure at all. Listing 429 would let one chatty caller open the breaker for everyone.
 */
const FAILURE_STATUS = 'expected a 5xx status (500-599): only server errors can count against a breaker';
const failureStatus = () => z.number({ error: FAILURE_STATUS }).int(FAILURE_STATUS).min(500, FAILURE_STATUS).max(599, FAILURE_STATUS);

/*
 * Node's timers hold at most 2^31-1 ms; a longer delay is silently cut to 1 ms (with only a
 * TimeoutOverflowWarning), so `timeoutMs: 2147483648` would fail every request at once.
 */
const MAX_TIMER_MS = 2147483647;
/** A duration in milliseconds that Node's timers can hold; `base` says whether 0 is allowed. */
const ms = (base: z.ZodNumber) => base.max(MAX_TIMER_MS, `expected at most ${MAX_TIMER_MS} ms (about 24.8 days)`);

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** The upstream name rule as a pattern, for the published JSON Schema. */
export const UPSTREAM_NAME = NAME;
/** Says exactly what NAME allows. */
export const NAME_RULE = 'expected an upstream name (1-63 letters, digits, ".", "_" or "-", starting with a letter or digit)';
export const isUpstreamName = (s: string): boolean => NAME.test(s);
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/*
 * `net.isIP` rather than a pattern of our own: it is what the forwarded-header check's
 * BlockList accepts, so an entry that passes here cannot make the gateway fail at start.
 */
const cidr = z.string().refine((s) => {
  const [addr = '', bits, ...rest] = s.split('/');
  const version = isIP(addr);
  if (rest.length > 0 || version === 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128));
}, 'expected an IP address or CIDR such as 10.0.0.0/8 or fd00::/8');

/** RFC 9110 §5.1: a header name is a token. */
const headerName = () => z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected a header name').transform((h) => h.toLowerCase());

/*
 * Identity and override headers an upstream might believe, removed from the requests of
 * callers that are not trusted proxies: each lets a caller claim another address, URL or
 * method than the gateway saw (an upstream that audits by X-Real-IP or honours
 * X-HTTP-Method-Override is fooled, and a route's `methods` bypassed).
 */
export const DEFAULT_UNTRUSTED_HEADERS = Object.freeze([
  'x-real-ip', 'true-client-ip', 'x-client-ip', 'cf-connecting-ip', 'x-cluster-client-ip',
  'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-server', 'x-forwarded-scheme', 'x-forwarded-ssl',
  'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-method-override', 'x-http-method',
]);

const percentage = () => z.number({ error: 'expected a percentage (1-100)' }).min(1, 'expected a percentage (1-100)').max(100, 'expected a percentage (1-100)');

export const breakerSchema = z.strictObject({
  /** Error percentage in the rolling window at which the breaker opens. */
  errorThresholdPercentage: percentage().default(50),
  /** Calls needed in the rolling window before the breaker may open at all. */
  volumeThreshold: nonNegInt().default(5),
  /** Time an open breaker waits before letting one trial call through (half-open). */
  resetTimeoutMs: ms(posInt()).default(10000),
  /** Length of the rolling statistics window. */
  rollingWindowMs: ms(posInt()).default(10000),
});

const upstreamDefaultsSchema = z.strictObject({
  /** Time to establish the TCP (and TLS) connection to an upstream. */
  connectTimeoutMs: ms(posInt()).default(2000),
  /** Time from sending the request until the upstream's response headers arrive. */
  timeoutMs: ms(posInt()).default(10000),
  /** Upstream answers counted as breaker failures (they still pass through to the caller). */
  failureStatuses: z.array(failureStatus()).default([500, 502, 503, 504]),
  /** Requests in flight to one upstream at most; beyond it callers get GATEWAY_OVERLOADED. */
  maxConcurrent: posInt().default(1000),
  breaker: breakerSchema.prefault({}),
});

export const healthCheckSchema = z.strictObject({
  /** Path probed with GET; a 2xx answer is healthy. */
  path: z.string().startsWith('/', 'expected a path starting with /').default('/health'),
  intervalMs: ms(posInt()).default(2000),
  timeoutMs: ms(posInt()).default(1000),
  /** Failed probes in a row that mark the upstream down (and open its breaker). */
  unhealthyThreshold: posInt().default(2),
  /** Successful probes in a row that mark it up again. */
  healthyThreshold: posInt().default(1),
  /** JSON member of the health answer that identifies the upstream's process (restart detection). */
  instanceIdField: z.string().min(1).default('instanceId'),
});

const urlSchema = z.string({ error: 'expected an http:// or https:// URL' }).refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '' && u.search === '' && u.hash === '';
  } catch {
    return false;
  }
}, 'expected an http:// or https:// URL without credentials, query or fragment');

const COOKIE_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

export const targetSchema = z.strictObject({
  /** Where this instance of the upstream listens. */
  url: urlSchema,
  /** The target's name in /status, the admin API, metrics and logs; `<upstream>-<n>` by default. */
  name: z.string().regex(NAME, NAME_RULE.replace('an upstream name', 'a target name')).optional(),
});

export const retrySchema = z.strictObject({
  /** Attempts in all, the first included; a retry always goes to a target not tried yet. */
  attempts: posInt().default(2),
  /** Retries in flight may be this share of the upstream's requests in flight … */
  budgetPercent: percentage().default(20),
  /** … or this many, whichever is more. */
  minRetryConcurrency: nonNegInt().default(3),
  /** Also retry an idempotent (or keyed) request after UPSTREAM_TIMEOUT. */
  onTimeout: z.boolean().default(false),
});

export const stickySchema = z.strictObject({
  /** Name of the cookie that pins a caller's session to one target. */
  cookie: z.string().regex(COOKIE_NAME, 'expected a cookie name (1-64 token characters)'),
  /** `fail`: SESSION_LOST when the pinned target is lost; `failover`: move the session and say so. */
  onLost: z.enum(['fail', 'failover']).default('fail'),
});

export const upstreamSchema = z.strictObject({
  /** Where requests for this upstream go: one target. `url: X` is the same as `targets: [{ url: X }]`. */
  url: urlSchema.optional(),
  /** Several instances of the upstream, balanced, with failover between them. */
  targets: z.array(targetSchema).min(1, 'expected at least one target').max(30, 'expected at most 30 targets').optional(),
  /** How a target is chosen: `least-request` (power of two choices on requests in flight) or `round-robin`. */
  balance: z.enum(['least-request', 'round-robin']).default('least-request'),
  retry: retrySchema.prefault({}),
  /** Pins a caller's session to one target with a cookie; absent: no stickiness. */
  sticky: stickySchema.optional(),
  connectTimeoutMs: ms(posInt()).optional(),
  timeoutMs: ms(posInt()).optional(),
  failureStatuses: z.array(failureStatus()).optional(),
  maxConcurrent: posInt().optional(),
  /*
   * Only the keys given here, without defaults: `breakerSchema.partial()` would keep its
   * `.default()`s and fill every key left out, overriding `defaults.breaker`.
   */
  breaker: z.strictObject({
    errorThresholdPercentage: percentage().optional(),
    volumeThreshold: nonNegInt().optional(),
    resetTimeoutMs: ms(posInt()).optional(),
    rollingWindowMs: ms(posInt()).optional(),
  }).optional(),
  healthCheck: healthCheckSchema.optional(),
  /** Added to every request this upstream receives (direct and queued), replacing the caller's copies. */
  headers: upstreamHeadersSchema,
  tls: z.strictObject({
    /** Verify the upstream's certificate (turn off only for tests). */
    rejectUnauthorized: z.boolean().default(true),
    /** PEM CA bundle to trust for this upstream, in addition to the system's. */
    ca: z.string().optional(),
    /** Name to check the certificate against, when it differs from the URL's host. */
    servername: z.string().optional(),
  }).optional(),
});

/*
 * TLS on the gateway's own listeners (docs/tls.md). Paths name PEM files; they are read and
 * checked when the configuration is loaded (config/tls-files.ts) and read again on SIGHUP.
 */
const pemPath = () => z.string({ error: 'expected the path of a PEM file' }).min(1, 'expected the path of a PEM file');
/** Below TLS 1.2 is not offered at all: OpenSSL 3 refuses 1.0 and 1.1 at its default security level anyway. */
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the gateway sets or strips itself, or that frame the request: never a place for the client's subject. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'expect',
  'proxy-authorization', 'proxy-connection', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'authorization', 'cookie']);
const listenerTls = {
  /** PEM certificate chain the listener presents (leaf first). */
  cert: pemPath(),
  /** PEM private key of `cert` (unencrypted). */
  key: pemPath(),
  /** PEM CA bundle that callers' certificates are verified against (needed with `requestCert`). */
  ca: pemPath().optional(),
  /** Ask callers for a certificate; it is verified against `ca`, and routes may require it. */
  requestCert: z.boolean().default(false),
  /** Lowest TLS version accepted. */
  minVersion: z.enum(TLS_VERSIONS, { error: `expected one of ${TLS_VERSIONS.join(', ')}` }).default('TLSv1.2'),
};
export const listenTlsSchema = z.strictObject({
  ...listenerTls,
  /** Request header that carries the verified client certificate's subject upstream; the caller's own copy is always removed. */
  clientCertHeader: z.string({ error: 'expected a header name' })
    .regex(HEADER_NAME, 'expected a header name such as X-Client-Cert-Subject')
    .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), 'expected a header of its own, not one the gateway sets, strips or relies on')
    .optional(),
});
export const adminTlsSchema = z.strictObject(listenerTls);

export const routeSchema = z.strictObject({
  /** Prefix matched on whole segments; the longest matching prefix wins. */
  path: z.string().regex(/^\/([A-Za-z0-9._~!$&'()*+,;=:@-]+(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*)?$/, 'expected a path such as /api/loans (no trailing slash, no dot-segments)')
    .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'expected a path without dot-segments'),
  upstream: z.string().regex(NAME, NAME_RULE),
  /** Allowed methods; absent means all. */
  methods: z.array(z.enum(METHODS, { error: `expected one of ${METHODS.join(', ')}` })).min(1, 'expected at least one method (leave the key out to allow all)').optional(),
  /** Remove the route's prefix before forwarding (/api/loans/7 → /7). */
  stripPrefix: z.boolean().default(false),
  /** Upstreams that must be available before anything is forwarded (pre-flight, SPEC §5). */
  requires: z.array(z.string().regex(NAME, NAME_RULE)).default([]),
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: nonNegInt().default(1048576),
  /** `state`: judge requirements by breaker and health state; `probe`: also probe stale ones live. */
  preflight: z.enum(['state', 'probe']).default('state'),
  /** With `preflight: probe`, how long a probe result is trusted. */
  preflightCacheMs: ms(posInt()).default(1000),
  /** `required`: callers without a verified client certificate get CLIENT_CERT_REQUIRED (needs `listen.tls.requestCert`). */
  clientCert: z.enum(['required', 'optional'], { error: 'expected required or optional' }).default('optional'),
  /** `queued`: accept now (202), deliver when every system involved is available (queue-schema.ts). */
  delivery: deliverySchema,
  queue: routeQueueSchema.prefault({}),
});

export const configSchema = z.strictObject({
  /** Where an editor finds the JSON Schema of this file (docs/configuration.md); ignored by the gateway. */
  $schema: z.string().optional(),
  listen: z.strictObject({
    host: host().default('0.0.0.0'),
    port: port().default(8080),
    /** Peers whose X-Forwarded-* headers are kept (appended to); CIDRs or addresses. */
    trustedProxies: z.array(cidr).default([]),
    /** Whole-request deadline for receiving headers and body from a caller. */
    requestTimeoutMs: ms(posInt()).default(30000),
    /** Deadline for receiving a caller's headers. */
    headersTimeoutMs: ms(posInt()).default(10000),
    /** Idle keep-alive sockets are closed after this long. */
    keepAliveTimeoutMs: ms(posInt()).default(5000),
    /** Largest request head accepted, in bytes (beyond it: 431). */
    maxHeaderBytes: posInt().default(16384),
    /** Headers removed from callers that are not trusted proxies (X-Real-IP is then set from the peer). */
    untrustedHeaders: z.array(headerName()).default([...DEFAULT_UNTRUSTED_HEADERS]),
    /** Caller connections open at once; beyond it a new one gets 503 GATEWAY_OVERLOADED. Default: from the file-descriptor limit. */
    maxConnections: posInt().optional(),
    /** A caller that accepts no bytes of its response for this long is cut, and its upstream request aborted. */
    sendTimeoutMs: ms(posInt()).default(30000),
    /** HTTPS on the traffic listener; absent: plain HTTP. */
    tls: listenTlsSchema.optional(),
  }).prefault({}),
  admin: z.strictObject({
    host: host().default('127.0.0.1'),
    port: port().default(9090),
    /** Bearer token for the admin listener; empty means read-only access without a token. */
    token: z.string().nullable().default('').transform((t) => t ?? ''),
    /** Host names the admin listener answers besides its own address and localhost (DNS-rebinding guard). */
    allowedHosts: z.array(host()).default([]),
    /** HTTPS on the admin listener; with `requestCert`, every admin request needs a verified client certificate. */
    tls: adminTlsSchema.optional(),
  }).prefault({}),
  shutdown: z.strictObject({
    /** How long in-flight requests may take to finish after SIGTERM/SIGINT. */
    drainTimeoutMs: ms(nonNegInt()).default(10000),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `auto`: readable lines (pino-pretty) when stdout is a terminal, JSON lines otherwise. */
    format: z.enum(['auto', 'json', 'pretty']).default('auto'),
  }).prefault({}),
  defaults: upstreamDefaultsSchema.prefault({}),
  queue: queueSchema.prefault({}),
  /*
   * Names are checked in load.ts's cross-checks, not here: a key schema that fails makes zod
   * skip the value, so a bad name would hide every error inside that upstream.
   */
  upstreams: z.record(z.string(), upstreamSchema)
    .refine((u) => Object.keys(u).length > 0, 'expected at least one upstream'),
  routes: z.array(routeSchema).min(1, 'expected at least one route'),
});

export type RawConfig = z.output<typeof configSchema>;
