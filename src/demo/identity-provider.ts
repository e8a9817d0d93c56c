import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { listen, readJsonObject, sendJson, type ListeningServer } from './demo-http';
import { signAccessToken } from './demo-token';

/*
 * The demo identity provider (loopback only): a demo user logs in with a password and gets a
 * short-lived access token and a refresh token; the refresh token buys new access tokens
 * without the password (the demo app's silent re-login). Refresh tokens live in memory.
 *
 *   POST /auth/login    {username, password} → 200 {accessToken, expiresIn, refreshToken, refreshExpiresIn, user}
 *   POST /auth/refresh  {refreshToken}       → 200 the same, with a new (rotated) refresh token; 401 when unknown or expired
 *   POST /auth/logout   {refreshToken}       → 204
 *   GET  /health                             → 200 {status: up, instanceId}
 *   POST /_demo/revoke                       → forgets every refresh token (makes silent re-login impossible)
 * Paths are served with or without the leading /auth, like the other demo servers.
 */

export interface IdentityProviderOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Shared with the business layer, which verifies the access tokens. */
  signingKey: Buffer;
  /** Access token lifetime. Default 5 minutes. */
  accessTtlMs?: number;
  /** Refresh token lifetime. Default 8 hours. */
  refreshTtlMs?: number;
  now?: () => number;
}

export interface IdentityProvider extends ListeningServer {
  name: string;
}

/** The demo's one user: `demo` / `demo`. */
export const DEMO_USERS: Readonly<Record<string, { password: string; name: string }>> = Object.freeze({
  demo: { password: 'demo', name: 'Dana Demo (handläggare)' },
});

interface RefreshGrant {
  sub: string;
  expiresAt: number;
}

export async function startIdentityProvider(options: IdentityProviderOptions): Promise<IdentityProvider> {
  const { signingKey } = options;
  const accessTtlMs = options.accessTtlMs ?? 5 * 60_000;
  const refreshTtlMs = options.refreshTtlMs ?? 8 * 3_600_000;
  const now = options.now ?? Date.now;
  const grants = new Map<string, RefreshGrant>();
  const instanceId = randomUUID();

  const issue = (sub: string): Record<string, unknown> => {
    const user = DEMO_USERS[sub];
    const refreshToken = randomBytes(24).toString('base64url');
    grants.set(refreshToken, { sub, expiresAt: now() + refreshTtlMs });
    return {
      accessToken: signAccessToken({ sub, name: user?.name ?? sub, exp: now() + accessTtlMs }, signingKey),
      tokenType: 'Bearer',
      expiresIn: Math.floor(accessTtlMs / 1000),
      refreshToken,
      refreshExpiresIn: Math.floor(refreshTtlMs / 1000),
      user: { username: sub, name: user?.name ?? sub },
    };
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => sendJson(res, 500, { error: 'internal_error' }));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]?.replace(/^\/auth(?=\/)/, '') ?? '/';
    if (path === '/health') return sendJson(res, 200, { status: 'up', instanceId, name: 'identity' });
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'method_not_allowed', message: 'use POST' }, { Allow: 'POST' });
    if (path === '/_demo/revoke') {
      const revoked = grants.size;
      grants.clear();
      return sendJson(res, 200, { revoked });
    }
    const body = await readJsonObject(req);
    if (!body) return sendJson(res, 400, { error: 'invalid_json', message: 'expected a JSON object as the request body' });
    switch (path) {
      case '/login': {
        const user = typeof body.username === 'string' ? DEMO_USERS[body.username] : undefined;
        if (!user || body.password !== user.password) return sendJson(res, 401, { error: 'invalid_credentials', message: 'unknown user or wrong password' });
        return sendJson(res, 200, issue(body.username as string));
      }
      case '/refresh': {
        const token = typeof body.refreshToken === 'string' ? body.refreshToken : '';
        const grant = grants.get(token);
        grants.delete(token); // rotated: a refresh token is good for one refresh
        if (!grant || grant.expiresAt <= now()) return sendJson(res, 401, { error: 'invalid_refresh_token', message: 'the refresh token is unknown or expired: log in again' });
        return sendJson(res, 200, issue(grant.sub));
      }
      case '/logout':
        if (typeof body.refreshToken === 'string') grants.delete(body.refreshToken);
        return sendJson(res, 204, undefined);
      default:
        return sendJson(res, 404, { error: 'not_found', message: `no such endpoint: ${path}` });
    }
  }

  const listening = await listen(server, options.host, options.port, 'demo identity provider');
  return { name: 'identity', ...listening };
}
