import { z } from 'zod';

/*
 * The configuration file's schema (SPEC §3). Every object is strict so that a typo is an
 * error, not a silently ignored key. Defaults live beside the keys they belong to.
 * `.prefault({})` makes an absent section parse as if it were empty, so nested defaults apply.
 */

const posInt = () => z.number({ error: 'expected a positive integer' }).int('expected a positive integer').positive('expected a positive integer');
const nonNegInt = () => z.number({ error: 'expected a non-negative integer' }).int('expected a non-negative integer').min(0, 'expected a non-negative integer');
const port = () => z.number({ error: 'expected a port number (0-65535)' }).int('expected a port number (0-65535)').min(0, 'expected a port number (0-65535)').max(65535, 'expected a port number (0-65535)');
const host = () => z.string({ error: 'expected a host name or address' }).min(1, 'expected a host name or address');
const httpStatus = () => z.number({ error: 'expected an HTTP status (100-599)' }).int().min(100, 'expected an HTTP status (100-599)').max(599, 'expected an HTTP status (100-599)');

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const cidr = z.string().refine((s) => {
  const [addr, bits, ...rest] = s.split('/');
  if (rest.length > 0 || !addr) return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(addr);
  const max = v4 ? 32 : addr.includes(':') ? 128 : -1;
  if (max < 0 || (v4 && v4.slice(1).some((o) => Number(o) > 255))) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
}, 'expected an IP address or CIDR such as 10.0.0.0/8');

const percentage = () => z.number({ error: 'expected a percentage (1-100)' }).min(1, 'expected a percentage (1-100)').max(100, 'expected a percentage (1-100)');

export const breakerSchema = z.strictObject({
  /** Error percentage in the rolling window at which the breaker opens. */
  errorThresholdPercentage: percentage().default(50),
  /** Calls needed in the rolling window before the breaker may open at all. */
  volumeThreshold: nonNegInt().default(5),
  /** Time an open breaker waits before letting one trial call through (half-open). */
  resetTimeoutMs: posInt().default(10000),
  /** Length of the rolling statistics window. */
  rollingWindowMs: posInt().default(10000),
});

const upstreamDefaultsSchema = z.strictObject({
  /** Time to establish the TCP (and TLS) connection to an upstream. */
  connectTimeoutMs: posInt().default(2000),
  /** Time from sending the request until the upstream's response headers arrive. */
  timeoutMs: posInt().default(10000),
  /** Upstream answers counted as breaker failures (they still pass through to the caller). */
  failureStatuses: z.array(httpStatus()).default([500, 502, 503, 504]),
  /** Requests in flight to one upstream at most; beyond it callers get GATEWAY_OVERLOADED. */
  maxConcurrent: posInt().default(1000),
  breaker: breakerSchema.prefault({}),
});

export const healthCheckSchema = z.strictObject({
  /** Path probed with GET; a 2xx answer is healthy. */
  path: z.string().startsWith('/', 'expected a path starting with /').default('/health'),
  intervalMs: posInt().default(2000),
  timeoutMs: posInt().default(1000),
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

export const upstreamSchema = z.strictObject({
  /** Where requests for this upstream go. */
  url: urlSchema,
  connectTimeoutMs: posInt().optional(),
  timeoutMs: posInt().optional(),
  failureStatuses: z.array(httpStatus()).optional(),
  maxConcurrent: posInt().optional(),
  /*
   * Only the keys given here, without defaults: `breakerSchema.partial()` would keep its
   * `.default()`s and fill every key left out, overriding `defaults.breaker`.
   */
  breaker: z.strictObject({
    errorThresholdPercentage: percentage().optional(),
    volumeThreshold: nonNegInt().optional(),
    resetTimeoutMs: posInt().optional(),
    rollingWindowMs: posInt().optional(),
  }).optional(),
  healthCheck: healthCheckSchema.optional(),
  tls: z.strictObject({
    /** Verify the upstream's certificate (turn off only for tests). */
    rejectUnauthorized: z.boolean().default(true),
    /** PEM CA bundle to trust for this upstream, in addition to the system's. */
    ca: z.string().optional(),
    /** Name to check the certificate against, when it differs from the URL's host. */
    servername: z.string().optional(),
  }).optional(),
});

export const routeSchema = z.strictObject({
  /** Prefix matched on whole segments; the longest matching prefix wins. */
  path: z.string().regex(/^\/([A-Za-z0-9._~!$&'()*+,;=:@-]+(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*)?$/, 'expected a path such as /api/loans (no trailing slash, no dot-segments)')
    .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'expected a path without dot-segments'),
  upstream: z.string().regex(NAME, 'expected an upstream name'),
  /** Allowed methods; absent means all. */
  methods: z.array(z.enum(METHODS, { error: `expected one of ${METHODS.join(', ')}` })).min(1).optional(),
  /** Remove the route's prefix before forwarding (/api/loans/7 → /7). */
  stripPrefix: z.boolean().default(false),
  /** Upstreams that must be available before anything is forwarded (pre-flight, SPEC §5). */
  requires: z.array(z.string().regex(NAME, 'expected an upstream name')).default([]),
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: nonNegInt().default(1048576),
  /** `state`: judge requirements by breaker and health state; `probe`: also probe stale ones live. */
  preflight: z.enum(['state', 'probe']).default('state'),
  /** With `preflight: probe`, how long a probe result is trusted. */
  preflightCacheMs: posInt().default(1000),
});

export const configSchema = z.strictObject({
  listen: z.strictObject({
    host: host().default('0.0.0.0'),
    port: port().default(8080),
    /** Peers whose X-Forwarded-* headers are kept (appended to); CIDRs or addresses. */
    trustedProxies: z.array(cidr).default([]),
    /** Whole-request deadline for receiving headers and body from a caller. */
    requestTimeoutMs: posInt().default(30000),
    /** Deadline for receiving a caller's headers. */
    headersTimeoutMs: posInt().default(10000),
    /** Idle keep-alive sockets are closed after this long. */
    keepAliveTimeoutMs: posInt().default(5000),
    /** Largest request head accepted, in bytes (beyond it: 431). */
    maxHeaderBytes: posInt().default(16384),
  }).prefault({}),
  admin: z.strictObject({
    host: host().default('127.0.0.1'),
    port: port().default(9090),
    /** Bearer token for the admin listener; empty means read-only access without a token. */
    token: z.string().nullable().default('').transform((t) => t ?? ''),
  }).prefault({}),
  shutdown: z.strictObject({
    /** How long in-flight requests may take to finish after SIGTERM/SIGINT. */
    drainTimeoutMs: nonNegInt().default(10000),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).prefault({}),
  defaults: upstreamDefaultsSchema.prefault({}),
  upstreams: z.record(z.string().regex(NAME, 'expected an upstream name (letters, digits, . _ -)'), upstreamSchema)
    .refine((u) => Object.keys(u).length > 0, 'expected at least one upstream'),
  routes: z.array(routeSchema).min(1, 'expected at least one route'),
});

export type RawConfig = z.output<typeof configSchema>;
