import { QUEUED_METHODS } from '../config/queue-schema';
import type { RouteConfig } from '../config/types';
import { upstreamReading } from '../core/path-reading';

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
 * through a map, starting at the depth of the deepest route: its cost depends on the
 * routes' depth, not on the number of routes or on how deep a caller makes its path.
 */
export class RouteTable {
  private readonly byPath = new Map<string, CompiledRoute>();
  /** The same routes by the path an upstream would read (see upstreamReading). */
  private readonly byReading = new Map<string, CompiledRoute>();
  /** Segments in the deepest route path. */
  private readonly maxDepth: number;

  constructor(routes: readonly RouteConfig[]) {
    let maxDepth = 0;
    for (const config of routes) {
      // A queued route without `methods` takes the methods that can be queued; others get 405.
      const listed = config.methods ?? (config.delivery === 'queued' ? QUEUED_METHODS : null);
      const methods = listed ? new Set<string>(listed) : null;
      if (methods?.has('GET')) methods.add('HEAD');
      const route: CompiledRoute = {
        config,
        path: config.path,
        upstream: config.upstream,
        methods,
        allow: methods ? [...methods].join(', ') : '',
      };
      this.byPath.set(config.path, route);
      // Configuration refuses two routes that read alike, so no reading is taken twice.
      this.byReading.set(upstreamReading(config.path) ?? config.path, route);
      maxDepth = Math.max(maxDepth, segmentsOf(config.path));
    }
    this.maxDepth = maxDepth;
  }

  /** Every route, in configuration order. */
  all(): CompiledRoute[] {
    return [...this.byPath.values()];
  }

  /** Finds the route for a safe origin-form target (see unsafePathReason). */
  match(target: string): RouteMatch | null {
    const q = target.indexOf('?');
    const route = this.lookup(this.byPath, q === -1 ? target : target.slice(0, q));
    return route ? { route, upstreamPath: upstreamPathOf(route, target) } : null;
  }

  /**
   * The route an upstream's reading of `path` (no query) would match, when that reading
   * differs from the path; undefined when it reads as itself.
   */
  matchReading(path: string): CompiledRoute | null | undefined {
    const reading = upstreamReading(path);
    return reading === null ? undefined : this.lookup(this.byReading, reading);
  }

  private lookup(routes: ReadonlyMap<string, CompiledRoute>, path: string): CompiledRoute | null {
    let candidate = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    // Deeper prefixes than the deepest route cannot match: cut there at once.
    let slash = 0;
    for (let n = 0; n < this.maxDepth && slash !== -1; n++) slash = candidate.indexOf('/', slash + 1);
    if (slash !== -1) candidate = candidate.slice(0, slash);
    for (;;) {
      const route = routes.get(candidate === '' ? '/' : candidate);
      if (route) return route;
      if (candidate === '' || candidate === '/') return null;
      candidate = candidate.slice(0, candidate.lastIndexOf('/'));
    }
  }
}

/** `/` has none, `/api/loans` two. */
function segmentsOf(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return path === '/' ? 0 : n;
}

function upstreamPathOf(route: CompiledRoute, target: string): string {
  if (!route.config.stripPrefix || route.path === '/') return target;
  const rest = target.slice(route.path.length);
  return rest === '' || rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
}
