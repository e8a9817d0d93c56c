import { ProblemError, type Client } from '../../client/index.js';

/**
 * The app's login with the demo identity provider and its session in the business layer.
 * The refresh token is kept in sessionStorage (this tab only, gone with the browser): a lost
 * session (401 from the business layer, or SESSION_LOST from the gateway when sticky
 * sessions are on) is renewed with it in the background, and the request is sent again.
 */

/** Silent re-login is impossible (no refresh token, or the identity provider refused it): the user must log in. */
export class LoginRequired extends Error {
  override readonly name = 'LoginRequired';
}

export interface Auth {
  readonly user: string | null;
  /** Picks up a live session, or renews one with a kept refresh token; false when the user must log in. */
  resume(): Promise<boolean>;
  /** Logs in with a password; rejects with a message for the user. */
  login(username: string, password: string): Promise<void>;
  /**
   * Runs `send`; on 401 or SESSION_LOST renews the session silently once and runs it again
   * (the caller's closure keeps its Idempotency-Key, so a repeat is the same request).
   */
  withSession(send: () => Promise<Response>): Promise<Response>;
  logout(): void;
}

interface Tokens {
  accessToken: string;
  refreshToken: string;
  user: { username: string; name: string };
}

const REFRESH_KEY = 'breakwater-demo:refresh-token';
const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export function createAuth(client: Client, storage: Storage, onRenewed: () => void): Auth {
  let user: string | null = null;
  let renewing: Promise<void> | undefined;

  const sessionLost = (err: unknown): boolean => err instanceof ProblemError && err.code === 'SESSION_LOST';

  async function openSession(tokens: Tokens): Promise<void> {
    storage.setItem(REFRESH_KEY, tokens.refreshToken);
    const post = (): Promise<Response> => client.request('/api/session', { method: 'POST', headers: { authorization: `Bearer ${tokens.accessToken}` } });
    // Still pinned to an instance that restarted: the gateway answers SESSION_LOST and clears
    // the pin, so the new session, sent again, goes to an available instance.
    const res = await post().catch((err: unknown) => {
      if (sessionLost(err)) return post();
      throw err;
    });
    if (res.status !== 201) throw new LoginRequired(`the loan system refused the login (HTTP ${res.status})`);
    user = tokens.user.name;
  }

  async function renew(): Promise<void> {
    const refreshToken = storage.getItem(REFRESH_KEY);
    if (!refreshToken) throw new LoginRequired('no refresh token');
    const res = await client.request('/auth/refresh', json({ refreshToken }));
    if (res.status === 401 || res.status === 400) {
      storage.removeItem(REFRESH_KEY);
      user = null;
      throw new LoginRequired('the refresh token was refused');
    }
    if (!res.ok) throw new Error(`the identity provider answered HTTP ${res.status}`);
    await openSession((await res.json()) as Tokens);
    onRenewed();
  }

  /** One renewal at a time, however many requests found the session lost. */
  const renewOnce = (): Promise<void> => (renewing ??= renew().finally(() => (renewing = undefined)));

  return {
    get user() {
      return user;
    },
    async resume() {
      try {
        const res = await client.request('/api/session');
        if (res.ok) {
          user = ((await res.json()) as { name: string }).name;
          return true;
        }
      } catch (err) {
        if (!sessionLost(err)) throw err;
      }
      try {
        await renewOnce();
        return true;
      } catch (err) {
        if (err instanceof LoginRequired) return false;
        throw err;
      }
    },
    async login(username, password) {
      const res = await client.request('/auth/login', json({ username, password }));
      if (res.status === 401) throw new Error('Unknown user or wrong password.');
      if (!res.ok) throw new Error(`The identity provider answered HTTP ${res.status}.`);
      await openSession((await res.json()) as Tokens);
    },
    async withSession(send) {
      let res: Response;
      try {
        res = await send();
      } catch (err) {
        if (!sessionLost(err)) throw err;
        await renewOnce();
        return send();
      }
      if (res.status !== 401) return res;
      await res.body?.cancel();
      await renewOnce();
      const again = await send();
      if (again.status === 401) throw new LoginRequired('the renewed session was refused');
      return again;
    },
    logout() {
      storage.removeItem(REFRESH_KEY);
      user = null;
    },
  };
}
