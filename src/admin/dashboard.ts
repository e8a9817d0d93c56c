import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Router, type Response } from 'express';

/**
 * The dashboard's built folder, dist/web/dashboard (sources in src/web/dashboard, bundled by
 * `npm run build`), seen from dist/src/admin (compiled) or src/admin (ts-jest).
 */
export const DASHBOARD_DIR: string = resolveDashboardDir();

function resolveDashboardDir(): string {
  const compiled = path.resolve(__dirname, '../../web/dashboard');
  if (existsSync(path.join(compiled, 'index.html'))) return compiled;
  return path.resolve(__dirname, '../../dist/web/dashboard');
}

const FILES: Record<string, { file: string; type: string }> = {
  '/dashboard': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

/** Everything the page loads comes from this listener; nothing inline, no CDN (it must work offline). */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * GET /dashboard and its two assets (SPEC §7), static files built by `npm run build`. They are
 * served without authorization even when an admin token is configured: the page holds no
 * data, and it has to load before it can ask the operator for the token that its API calls
 * then carry. Files are read once, on first use.
 */
export function dashboardRoutes(dir: string = DASHBOARD_DIR): Router {
  const cache = new Map<string, Buffer>();
  const router = Router();
  const serve = (urlPath: string, res: Response): void => {
    const entry = FILES[urlPath] as { file: string; type: string };
    let body = cache.get(entry.file);
    if (body === undefined) {
      body = readFileSync(path.join(dir, entry.file));
      cache.set(entry.file, body);
    }
    res.setHeader('Content-Type', entry.type);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Length', body.length);
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  for (const urlPath of Object.keys(FILES)) router.get(urlPath, (_req, res) => serve(urlPath, res));
  return router;
}

/** Paths served by dashboardRoutes, so the admin app can leave them out of authorization. */
export function isDashboardPath(urlPath: string): boolean {
  return Object.hasOwn(FILES, urlPath);
}
