/*
 * The dashboard's way to the admin API: the admin token (kept in the tab's sessionStorage
 * only) and requests that carry it. A 401 is reported to `onUnauthorized` with the token the
 * request used, so a newer token can tell a stale refusal from its own.
 */

const TOKEN_KEY = 'breakwater.adminToken';

/** Thrown by `request` after a 401, once `onUnauthorized` has been told. */
export class AuthRequired extends Error {}

export interface AdminApi {
  /** The token in use; '' for none. */
  readonly token: string;
  /** Keeps `value` for this tab ('' forgets it). */
  setToken(value: string): void;
  /** Accept (and, with a token, Authorization) headers for a request of the admin API. */
  headers(accept: string): Record<string, string>;
  /** A JSON request of the admin API; rejects with AuthRequired on a 401. */
  request(path: string, init?: RequestInit): Promise<Response>;
}

export function createAdminApi(onUnauthorized: (usedToken: string) => void): AdminApi {
  let token = readToken();

  const headers = (accept: string): Record<string, string> => (token ? { Accept: accept, Authorization: 'Bearer ' + token } : { Accept: accept });

  return {
    get token() {
      return token;
    },
    setToken(value) {
      token = value;
      try {
        if (value) window.sessionStorage.setItem(TOKEN_KEY, value);
        else window.sessionStorage.removeItem(TOKEN_KEY);
      } catch {
        /* storage disabled: keep it in memory for this page */
      }
    },
    headers,
    async request(path, init) {
      const usedToken = token;
      const res = await fetch(path, Object.assign({ cache: 'no-store', credentials: 'same-origin' } as RequestInit, init, { headers: headers('application/json') }));
      if (res.status === 401) {
        onUnauthorized(usedToken);
        throw new AuthRequired();
      }
      return res;
    },
  };
}

/** The body as JSON (a problem, or an answer), or {} when it is not JSON. */
export async function readBody(res: Response): Promise<Record<string, unknown>> {
  try {
    return (await res.json()) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function readToken(): string {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}
