import { QUEUED_METHODS } from '../config/queue-schema';
import type { RouteConfig } from '../config/types';

/** A route with what the hot path needs precomputed. */
export interface CompiledRoute {
  readonly config: RouteConfig;
  readonly path: string;
  readonly upstream: string;
  /** null: every method is allowed. */
  readonly methods: ReadonlySet<string> | null;
  /** Value of the `Allow` header for 405 answers. */
  readonly allow: string;
}

export interface RouteMatch {
  route: CompiledRoute;
  /** The path and query to send upstream (prefix stripped when configured). */
  upstreamPath: string;
}

/**
 * Whole-segment prefix matching: `/api` matches `/api` and `/api/x`, never `/apix`; the
 * longest prefix wins. Lookup walks the request path's own prefixes, longest first,
 * through a map, so its cost depends on the path's depth, not on the number of routes.
 */
export class RouteTable {
  private readonly byPath = new Map<string, CompiledRoute>();

  constructor(routes: readonly RouteConfig[]) {
    for (const config of routes) {
      // A queued route without `methods` takes the methods that can be queued; others get 405.
      const listed = config.methods ?? (config.delivery === 'queued' ? QUEUED_METHODS : null);
      const methods = listed ? new Set<string>(listed) : null;
      if (methods?.has('GET')) methods.add('HEAD');
      this.byPath.set(config.path, {
        config,
        path: config.path,
        upstream: config.upstream,
        methods,
        allow: methods ? [...methods].join(', ') : '',
      });
    }
  }

  /** Every route, in configuration order. */
  all(): CompiledRoute[] {
    return [...this.byPath.values()];
  }

  /** Finds the route for a safe origin-form target (see unsafePathReason). */
  match(target: string): RouteMatch | null {
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    let candidate = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    for (;;) {
      const route = this.byPath.get(candidate === '' ? '/' : candidate);
      if (route) return { route, upstreamPath: upstreamPathOf(route, target) };
      if (candidate === '' || candidate === '/') return null;
      candidate = candidate.slice(0, candidate.lastIndexOf('/'));
    }
  }
}

function upstreamPathOf(route: CompiledRoute, target: string): string {
  if (!route.config.stripPrefix || route.path === '/') return target;
  const rest = target.slice(route.path.length);
  return rest === '' || rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
}
