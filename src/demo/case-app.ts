import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { verifyAccessToken } from './demo-token';
import { parseOrgNumber } from './org-number';

/*
 * The loan-case part of the demo business layer, used by the demo app at /app/:
 *   POST   /api/session          Authorization: Bearer <access token> → 201, sets the session cookie
 *   GET    /api/session          → 200 {user} with a live session, else 401
 *   DELETE /api/session          → 204
 *   GET    /api/cases            → {items, total}
 *   POST   /api/cases            → 201 the stored case; Idempotency-Key honoured (the same key
 *                                  and body answer the first reply again, marked Idempotent-Replayed)
 *   GET|PUT /api/cases/{id}
 *   POST   /api/cases/printout   → 200 text/html, the printable case (not stored)
 *   GET    /app/…                → the app's files (built into dist/web/app)
 * Every /api/cases call needs the session. Sessions live in this process's memory only, so a
 * restart loses them and the next call is 401: the app then logs in again silently.
 */

export interface AppRequest {
  method: string;
  /** The path without the query. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface AppReply {
  status: number;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is, instead of `body`. */
  raw?: { contentType: string; data: Buffer | string };
  headers?: Record<string, string>;
}

export interface CaseAppOptions {
  /** Verifies the identity provider's access tokens. */
  signingKey: Buffer;
  /** Where the built app is; default dist/web/app of this checkout. */
  appDir?: string;
  now?: () => number;
}

export interface CaseApp {
  /** The reply for a request of the case part, or undefined when the path is not one of its own. */
  handle(req: AppRequest): AppReply | undefined;
  /** What a restart loses: sessions, cases, idempotency records. */
  reset(): void;
}

export interface LoanCase {
  id: string;
  borrower: string;
  orgNumber: string;
  amountSek: number;
  purpose: string;
  notes: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export const SESSION_COOKIE = 'demo_session';

/** dist/web/app, seen from src/demo (ts-jest) or dist/src/demo (compiled). */
export const DEMO_APP_DIR: string = [path.resolve(__dirname, '../../web/app'), path.resolve(__dirname, '../../dist/web/app')].find((d) => existsSync(path.join(d, 'index.html'))) ?? path.resolve(__dirname, '../../dist/web/app');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json', '.svg': 'image/svg+xml' };

const problem = (status: number, error: string, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): AppReply => ({ status, body: { error, message, ...extra }, headers });
const unauthorized = (message: string): AppReply => problem(401, 'session_required', message, {}, { 'WWW-Authenticate': 'Bearer realm="demo"' });

export function createCaseApp(options: CaseAppOptions): CaseApp {
  const now = options.now ?? Date.now;
  const appDir = options.appDir ?? DEMO_APP_DIR;
  let sessions = new Map<string, { user: string; name: string }>();
  let cases = new Map<string, LoanCase>();
  let replies = new Map<string, { fingerprint: string; reply: AppReply }>();
  let nextId = 1;

  function sessionOf(headers: IncomingHttpHeaders): { user: string; name: string } | undefined {
    const cookie = headers.cookie ?? '';
    const m = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_-]+)`).exec(cookie);
    return m?.[1] ? sessions.get(m[1]) : undefined;
  }

  function session(req: AppRequest): AppReply {
    if (req.method === 'DELETE') return { status: 204, headers: { 'Set-Cookie': `${SESSION_COOKIE}=; Max-Age=0; HttpOnly; SameSite=Lax; Path=/` } };
    if (req.method === 'GET') {
      const s = sessionOf(req.headers);
      return s ? { status: 200, body: { user: s.user, name: s.name } } : unauthorized('no session: POST /api/session with an access token');
    }
    if (req.method !== 'POST') return problem(405, 'method_not_allowed', 'use GET, POST or DELETE', {}, { Allow: 'GET, POST, DELETE' });
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const claims = token ? verifyAccessToken(token, options.signingKey, now()) : null;
    if (!claims) return unauthorized('a valid, unexpired access token from the identity provider is required');
    const id = randomBytes(18).toString('base64url');
    sessions.set(id, { user: claims.sub, name: claims.name });
    return { status: 201, body: { user: claims.sub, name: claims.name }, headers: { 'Set-Cookie': `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Lax; Path=/` } };
  }

  function validate(input: Record<string, unknown>): { ok: true; value: Omit<LoanCase, 'id' | 'createdBy' | 'createdAt' | 'updatedAt'> } | { ok: false; reply: AppReply } {
    const fields: Record<string, string> = {};
    const borrower = typeof input.borrower === 'string' ? input.borrower.trim() : '';
    if (!borrower) fields.borrower = 'expected the borrower’s name';
    const org = parseOrgNumber(input.orgNumber);
    if (!org.ok) fields.orgNumber = org.message;
    const amount = typeof input.amountSek === 'number' ? input.amountSek : Number.NaN;
    if (!Number.isFinite(amount) || amount <= 0 || amount > 1_000_000_000) fields.amountSek = 'expected a positive amount in SEK';
    for (const key of ['purpose', 'notes']) if (input[key] !== undefined && typeof input[key] !== 'string') fields[key] = 'expected text';
    if (Object.keys(fields).length > 0) {
      const message = Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('; ');
      return { ok: false, reply: problem(400, 'validation_failed', message, { fields }) };
    }
    return { ok: true, value: { borrower, orgNumber: org.ok ? org.value : '', amountSek: amount, purpose: String(input.purpose ?? ''), notes: String(input.notes ?? '') } };
  }

  function json(body: Buffer): Record<string, unknown> | undefined {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  function casesApi(req: AppRequest, rest: string[], user: { user: string; name: string }): AppReply {
    const [id, more] = rest;
    if (more !== undefined) return problem(404, 'not_found', `no such resource: ${req.path}`);
    if (id === undefined) {
      if (req.method === 'GET') return { status: 200, body: { items: [...cases.values()], total: cases.size } };
      if (req.method === 'POST') return create(req, user);
      return problem(405, 'method_not_allowed', 'use GET or POST on /api/cases', {}, { Allow: 'GET, POST' });
    }
    if (id === 'printout' && req.method === 'POST') {
      const input = json(req.body);
      return input ? { status: 200, raw: { contentType: 'text/html; charset=utf-8', data: printout(input, user.name, new Date(now())) } } : problem(400, 'invalid_json', 'expected a JSON object');
    }
    const found = cases.get(id);
    if (!found) return problem(404, 'not_found', `no case ${id}`);
    if (req.method === 'GET') return { status: 200, body: found };
    if (req.method !== 'PUT') return problem(405, 'method_not_allowed', 'use GET or PUT on a case', {}, { Allow: 'GET, PUT' });
    const input = json(req.body);
    if (!input) return problem(400, 'invalid_json', 'expected a JSON object');
    const checked = validate(input);
    if (!checked.ok) return checked.reply;
    const updated: LoanCase = { ...found, ...checked.value, updatedAt: new Date(now()).toISOString() };
    cases.set(id, updated);
    return { status: 200, body: updated };
  }

  /** POST with Idempotency-Key: a repeat gets the first answer again instead of a second case. */
  function create(req: AppRequest, user: { user: string; name: string }): AppReply {
    const key = typeof req.headers['idempotency-key'] === 'string' ? `${user.user}\n${req.headers['idempotency-key']}` : undefined;
    const fingerprint = createHash('sha256').update(req.body).digest('hex');
    if (key !== undefined) {
      const seen = replies.get(key);
      if (seen && seen.fingerprint !== fingerprint) return problem(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request');
      if (seen) return { ...seen.reply, headers: { ...seen.reply.headers, 'Idempotent-Replayed': 'true' } };
    }
    const input = json(req.body);
    if (!input) return problem(400, 'invalid_json', 'expected a JSON object');
    const checked = validate(input);
    if (!checked.ok) return checked.reply;
    const at = new Date(now()).toISOString();
    const stored: LoanCase = { id: `C-${String(nextId++).padStart(4, '0')}`, ...checked.value, createdBy: user.user, createdAt: at, updatedAt: at };
    cases.set(stored.id, stored);
    const reply: AppReply = { status: 201, body: stored, headers: { Location: `/api/cases/${stored.id}` } };
    if (key !== undefined) replies.set(key, { fingerprint, reply });
    return reply;
  }

  function staticFile(req: AppRequest, file: string): AppReply {
    if (req.method !== 'GET') return problem(405, 'method_not_allowed', 'the app is read with GET', {}, { Allow: 'GET, HEAD' });
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(file)) return problem(404, 'not_found', 'no such file');
    const full = path.join(appDir, file);
    if (!existsSync(full)) {
      if (!existsSync(path.join(appDir, 'index.html'))) return problem(503, 'app_not_built', 'the demo app is not built: run `npm run build`');
      return problem(404, 'not_found', `no such file: ${file}`);
    }
    return { status: 200, raw: { contentType: TYPES[path.extname(file)] ?? 'application/octet-stream', data: readFileSync(full) }, headers: { 'Cache-Control': 'no-cache' } };
  }

  return {
    handle(req) {
      const segments = req.path.split('/').filter((s) => s !== '');
      if (segments[0] === 'app') {
        if (segments.length === 1 && !req.path.endsWith('/')) return { status: 308, body: { location: '/app/' }, headers: { Location: '/app/' } };
        return staticFile(req, segments.length === 1 ? 'index.html' : segments.slice(1).join('/'));
      }
      if (segments[0] === 'api') segments.shift();
      if (segments[0] === 'session' && segments.length === 1) return session(req);
      if (segments[0] !== 'cases') return undefined;
      const user = sessionOf(req.headers);
      if (!user) return unauthorized('no session, or it was lost (the business layer restarted): log in again');
      return casesApi(req, segments.slice(1), user);
    },
    reset() {
      sessions = new Map();
      cases = new Map();
      replies = new Map();
      nextId = 1;
    },
  };
}

const escape = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The printable case, rendered by the server so that what is printed is what the bank's system says. */
function printout(input: Record<string, unknown>, clerk: string, at: Date): string {
  const amount = typeof input.amountSek === 'number' ? `${input.amountSek.toLocaleString('sv-SE')} SEK` : escape(input.amountSek);
  const rows = [['Ärende', input.id ?? 'ej sparat'], ['Låntagare', input.borrower], ['Organisationsnummer', input.orgNumber], ['Belopp', amount], ['Syfte', input.purpose], ['Anteckningar', input.notes]];
  return `<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Utskrift: ${escape(input.borrower)}</title>
<style>body{font:14px/1.5 system-ui,sans-serif;margin:2rem}th{text-align:left;padding-right:2rem;vertical-align:top}td{white-space:pre-wrap}footer{margin-top:2rem;color:#555}</style></head>
<body><h1>Capitex Företagslån: låneärende</h1><table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${k === 'Belopp' ? v : escape(v)}</td></tr>`).join('')}</table>
<footer>Utskriven ${escape(at.toISOString())} av ${escape(clerk)} från affärssystemet (demo).</footer></body></html>`;
}
