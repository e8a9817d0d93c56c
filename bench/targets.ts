/** The route prefix every proxied target serves; the upstream answers any path. */
export const PROXIED_PREFIX = '/api/bench';
/** The gateway's second route, whose upstream breaker is forced open (target e). */
export const OPEN_PREFIX = '/api/open';
/** The gateway's third route, to an upstream of two targets (the same server twice; target f). */
export const TWO_TARGETS_PREFIX = '/api/two';
/** The path requested under a target's prefix. */
export const REQUEST_PATH = '/loans/42';

/**
 * Node flags the gateway runs with in production (`npm start`, the Docker image's entrypoint),
 * so (d) and (e) run the same way: a young generation capped at 3 × 8 MiB keeps peak RSS
 * about 15 MB lower under load, at no CPU cost we could measure.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

export type TargetId = 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
export const TARGET_IDS: readonly TargetId[] = ['a', 'b', 'c', 'd', 'e', 'f'];

/** One thing the benchmark measures, each in its own process. */
export interface TargetSpec {
  id: TargetId;
  label: string;
  /** Compiled script, relative to dist/bench. */
  script: string;
  /** Request path, including the route prefix. */
  path: string;
  /** The status every answer must have; anything else counts as an error. */
  status: number;
  /** Node flags the target runs with. */
  nodeFlags?: readonly string[];
}

export const TARGETS: Record<TargetId, TargetSpec> = {
  a: { id: 'a', label: 'upstream directly', script: 'upstream.js', path: PROXIED_PREFIX + REQUEST_PATH, status: 200 },
  b: { id: 'b', label: 'raw node:http proxy', script: 'raw-proxy.js', path: PROXIED_PREFIX + REQUEST_PATH, status: 200 },
  c: { id: 'c', label: 'fastify + @fastify/http-proxy', script: 'fastify-proxy.js', path: PROXIED_PREFIX + REQUEST_PATH, status: 200 },
  d: { id: 'd', label: 'gateway (breaker, logs, metrics on)', script: 'gateway-target.js', path: PROXIED_PREFIX + REQUEST_PATH, status: 200, nodeFlags: GATEWAY_NODE_FLAGS },
  e: { id: 'e', label: 'gateway, open breaker (503)', script: 'gateway-target.js', path: OPEN_PREFIX + REQUEST_PATH, status: 503, nodeFlags: GATEWAY_NODE_FLAGS },
  f: { id: 'f', label: 'gateway, two targets (least-request)', script: 'gateway-target.js', path: TWO_TARGETS_PREFIX + REQUEST_PATH, status: 200, nodeFlags: GATEWAY_NODE_FLAGS },
};
