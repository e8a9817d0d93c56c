import { isObject } from '../core/is-object';
import { upstreamReading } from '../core/path-reading';
import { formatPath } from './key-path';
import { queueCrossCheck } from './queue-schema';
import { isUpstreamName, NAME_RULE } from './schema';

/** Checks between sections that a per-key schema cannot express. Works on raw input so it can run beside schema errors. */
export function crossCheck(raw: unknown): string[] {
  if (!isObject(raw)) return [];
  const issues: string[] = [];
  // An empty mapping is a mapping too: `upstreams: {}` leaves every route's upstream unknown.
  const names = isObject(raw.upstreams) ? new Set(Object.keys(raw.upstreams)) : null;
  const seen = new Map<string, number>();
  const readings = new Map<string, number>();
  const routes = Array.isArray(raw.routes) ? raw.routes : [];
  routes.forEach((route, i) => {
    if (!isObject(route)) return;
    if (typeof route.upstream === 'string' && names && !names.has(route.upstream)) {
      issues.push(`routes[${i}].upstream: unknown upstream "${route.upstream}"`);
    }
    if (Array.isArray(route.requires)) {
      route.requires.forEach((r, j) => {
        if (typeof r === 'string' && names && !names.has(r)) issues.push(`routes[${i}].requires[${j}]: unknown upstream "${r}"`);
      });
    }
    if (typeof route.path === 'string') {
      const first = seen.get(route.path);
      const reading = upstreamReading(route.path) ?? route.path;
      const alike = readings.get(reading);
      if (first !== undefined) issues.push(`routes[${i}].path: duplicate of routes[${first}].path "${route.path}"`);
      // The gateway refuses a path an upstream reads as another route's; two routes read alike cannot be told apart.
      else if (alike !== undefined) issues.push(`routes[${i}].path: reads as routes[${alike}].path "${String((routes[alike] as { path: string }).path)}" to an upstream that folds case or drops ";" parameters`);
      else seen.set(route.path, i);
      if (alike === undefined) readings.set(reading, i);
    }
  });
  if (isObject(raw.upstreams)) {
    for (const [name, u] of Object.entries(raw.upstreams)) {
      if (!isUpstreamName(name)) issues.push(`${formatPath(['upstreams', name])}: ${NAME_RULE}`);
      // TLS options on a plain-http upstream would be silently ignored: most likely the url was meant to be https://.
      if (!isObject(u)) continue;
      const hasUrl = u.url !== undefined;
      const hasTargets = u.targets !== undefined;
      if (hasUrl === hasTargets) issues.push(`${formatPath(['upstreams', name])}: expected either url or targets (not both)`);
      const urls = hasTargets && Array.isArray(u.targets) ? u.targets.map((t) => (isObject(t) ? t.url : undefined)) : [u.url];
      if (u.tls !== undefined && urls.some((x) => typeof x === 'string' && x.startsWith('http:'))) {
        issues.push(`${formatPath(['upstreams', name, 'tls'])}: applies only to an https:// url`);
      }
      if (Array.isArray(u.targets)) {
        const names = new Map<string, number>();
        u.targets.forEach((t, i) => {
          const targetName = isObject(t) && typeof t.name === 'string' ? t.name : `${name}-${i + 1}`;
          const first = names.get(targetName);
          if (first !== undefined) issues.push(`${formatPath(['upstreams', name, 'targets', i, 'name'])}: duplicate of targets[${first}] "${targetName}"`);
          else names.set(targetName, i);
        });
      }
    }
  }
  const listen = isObject(raw.listen) ? raw.listen : {};
  const admin = isObject(raw.admin) ? raw.admin : {};
  issues.push(...tlsCrossCheck(listen, admin, routes));
  const listenPort = listen.port ?? 8080;
  const adminPort = admin.port ?? 9090;
  if (typeof listenPort === 'number' && listenPort !== 0 && listenPort === adminPort) {
    issues.push(`admin.port: must differ from listen.port (${listenPort})`);
  }
  issues.push(...queueCrossCheck(raw));
  return issues;
}

/**
 * A client certificate is only worth asking for when there is a CA to verify it against (without
 * one, Node would accept any certificate from a public CA), and a route or header that relies
 * on one needs the traffic listener to ask for it.
 */
function tlsCrossCheck(listen: Record<string, unknown>, admin: Record<string, unknown>, routes: readonly unknown[]): string[] {
  const issues: string[] = [];
  for (const [at, section] of [['listen', listen], ['admin', admin]] as const) {
    const tls = section.tls;
    if (isObject(tls) && tls.requestCert === true && tls.ca === undefined) issues.push(`${at}.tls.ca: required with requestCert: true (callers' certificates are verified against it)`);
  }
  const asks = isObject(listen.tls) && listen.tls.requestCert === true;
  if (isObject(listen.tls) && listen.tls.clientCertHeader !== undefined && !asks) issues.push('listen.tls.clientCertHeader: needs listen.tls.requestCert: true');
  routes.forEach((route, i) => {
    if (isObject(route) && route.clientCert === 'required' && !asks) issues.push(`routes[${i}].clientCert: required needs listen.tls with requestCert: true`);
  });
  return issues;
}
