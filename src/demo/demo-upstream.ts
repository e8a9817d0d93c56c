import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createCaseApp, type AppReply } from './case-app';
import { parseOrgNumber } from './org-number';

/*
 * A simulated upstream for the bundled demo (SPEC §2): a business layer or a third-party
 * system (credit bureau, document archive) whose failures can be switched on and off over
 * HTTP. Plain node:http on purpose: it is small, and it must be able to misbehave (hang,
 * answer slowly) in ways a framework would try to prevent.
 *
 * Control endpoints (never affected by the mode):
 *   GET  /_demo/mode                      → {mode, delayMs}
 *   PUT  /_demo/mode   {"mode":"fail"}    → switch mode (JSON body; query parameters work too)
 *   POST /_demo/mode?mode=slow&delayMs=3000 → the same, bodyless, for short curl one-liners
 *   POST /_demo/restart                   → new instanceId, in-memory data back to its seed
 * Health: GET /health → 200 {status: up, …}; 503 {status: down, …} in modes fail/down;
 * never answers in mode hang (so health probes time out).
 *
 * Business paths are served with or without a leading /api, so the same server answers both
 * direct calls (curl :9001/loans) and requests that the demo gateway forwards unchanged
 * (stripPrefix: false, /api/loans).
 */

export type DemoKind = 'business' | 'credit-bureau' | 'archive';
export type DemoMode = 'ok' | 'fail' | 'hang' | 'slow' | 'down';

export const DEMO_MODES: readonly DemoMode[] = ['ok', 'fail', 'hang', 'slow', 'down'];
export const DEFAULT_DELAY_MS = 3000;
export const MAX_DELAY_MS = 600_000;
/** Largest request body the demo servers read. */
export const MAX_BODY_BYTES = 1024 * 1024;
const DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES;

export interface DemoUpstreamOptions {
  name: string;
  host: string;
  /** 0 picks a free port; `port` and `url` of the result report the real one. */
  port: number;
  kind: DemoKind;
  /** Business only: the identity provider's key; with it the business layer serves the loan-case API and the demo app (case-app.ts). */
  signingKey?: Buffer;
  /** Where the built demo app is (default dist/web/app). */
  appDir?: string;
}

export interface DemoUpstream {
  name: string;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A failure answered as JSON: `{error, message, upstream, ...extra}`. */
class DemoHttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Request {
  method: string;
  params: Record<string, string>;
  /** The raw body, already read (at most MAX_BODY_BYTES). */
  body: Buffer;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

type Handler = (req: Request) => Reply;

interface Route {
  /** Path segments; `:name` captures one segment. */
  segments: string[];
  methods: Partial<Record<string, Handler>>;
}

export async function startDemoUpstream(options: DemoUpstreamOptions): Promise<DemoUpstream> {
  const { name, host, kind } = options;
  const state = {
    mode: 'ok' as DemoMode,
    delayMs: DEFAULT_DELAY_MS,
    instanceId: randomUUID(),
    startedAt: new Date().toISOString(),
  };
  let data = seed(kind);
  const routes = businessRoutes(kind, () => data);
  const app = kind === 'business' && options.signingKey ? createCaseApp({ signingKey: options.signingKey, appDir: options.appDir }) : undefined;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closing: Promise<void> | undefined;

  const server = http.createServer((req, res) => {
    res.setHeader('X-Demo-Upstream', name);
    handle(req, res).catch((err: unknown) => {
      // A bug in the demo itself: answer something rather than leave the caller hanging.
      send(res, 500, { error: 'internal_error', message: err instanceof Error ? err.message : String(err), upstream: name });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://demo.invalid');
    } catch {
      fail(res, new DemoHttpError(400, 'bad_request', 'the request target is not a valid path'));
      return;
    }
    const body = await readBody(req);
    if (body === 'too-large') {
      res.setHeader('Connection', 'close');
      fail(res, new DemoHttpError(413, 'payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`));
      return;
    }
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const path = url.pathname;

    // Control endpoints work in every mode: they are how the demo is steered.
    if (path === '/_demo/mode' || path === '/_demo/restart') {
      try {
        const reply = control(path, method, url.searchParams, body);
        send(res, reply.status, reply.body, reply.headers);
      } catch (err) {
        fail(res, err);
      }
      return;
    }

    if (path === '/health') {
      if (state.mode === 'hang') return; // never answered: the gateway's probe times out
      const down = state.mode === 'fail' || state.mode === 'down';
      send(res, down ? 503 : 200, { status: down ? 'down' : 'up', instanceId: state.instanceId, name, kind, mode: state.mode, startedAt: state.startedAt });
      return;
    }

    switch (state.mode) {
      case 'hang':
        return; // never answered; the socket is destroyed on close()
      case 'fail':
        fail(res, new DemoHttpError(503, 'simulated_failure', `demo upstream "${name}" is in mode fail: every request fails`, { mode: 'fail' }));
        return;
      case 'down':
        fail(res, new DemoHttpError(503, 'service_unavailable', `demo upstream "${name}" is down`, { mode: 'down' }));
        return;
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer(res, method, path, body, req.headers);
        }, state.delayMs);
        timer.unref();
        timers.add(timer);
        // A caller that gives up (the gateway's timeout) frees the timer too.
        res.once('close', () => {
          clearTimeout(timer);
          timers.delete(timer);
        });
        return;
      }
      case 'ok':
        answer(res, method, path, body, req.headers);
        return;
    }
  }

  function answer(res: http.ServerResponse, method: string, path: string, body: Buffer, headers: http.IncomingHttpHeaders): void {
    try {
      const own = app?.handle({ method, path, headers, body });
      if (own) return sendReply(res, own);
      const segments = splitPath(path);
      if (segments[0] === 'api') segments.shift();
      let allowed: string[] | undefined;
      for (const route of routes) {
        const params = match(route.segments, segments);
        if (!params) continue;
        const handler = route.methods[method];
        if (!handler) {
          allowed = Object.keys(route.methods);
          continue;
        }
        const reply = handler({ method, params, body });
        send(res, reply.status, reply.body, reply.headers);
        return;
      }
      if (allowed) {
        const allow = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : [])].join(', ');
        throw new DemoHttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allow}`, {}, { Allow: allow });
      }
      throw new DemoHttpError(404, 'not_found', `no such resource on demo upstream "${name}": ${path}`);
    } catch (err) {
      fail(res, err);
    }
  }

  function control(path: string, method: string, query: URLSearchParams, body: Buffer): Reply {
    if (path === '/_demo/restart') {
      if (method !== 'POST') throw new DemoHttpError(405, 'method_not_allowed', 'use POST /_demo/restart', {}, { Allow: 'POST' });
      const previousInstanceId = state.instanceId;
      state.instanceId = randomUUID();
      state.startedAt = new Date().toISOString();
      data = seed(kind);
      app?.reset();
      return { status: 200, body: { restarted: true, instanceId: state.instanceId, previousInstanceId, startedAt: state.startedAt } };
    }
    if (method === 'GET') return { status: 200, body: { mode: state.mode, delayMs: state.delayMs } };
    if (method !== 'PUT' && method !== 'POST') {
      throw new DemoHttpError(405, 'method_not_allowed', 'use GET, PUT or POST on /_demo/mode', {}, { Allow: 'GET, HEAD, PUT, POST' });
    }
    const change = parseModeChange(query, body);
    if (change.mode !== undefined) state.mode = change.mode;
    if (change.delayMs !== undefined) state.delayMs = change.delayMs;
    return { status: 200, body: { mode: state.mode, delayMs: state.delayMs } };
  }

  function fail(res: http.ServerResponse, err: unknown): void {
    if (err instanceof DemoHttpError) {
      send(res, err.status, { error: err.error, message: err.message, upstream: name, ...err.extra }, err.headers);
    } else {
      send(res, 500, { error: 'internal_error', message: err instanceof Error ? err.message : String(err), upstream: name });
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`demo upstream "${name}" cannot listen on ${host}:${options.port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen({ host, port: options.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    name,
    port,
    url: `http://${urlHost(host)}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        // Hanging and keep-alive connections would hold close() open forever.
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/* ------------------------------------------------------------------------------------------ */
/* Control input                                                                               */

const MODE_HELP = `expected {"mode": one of ${DEMO_MODES.join(', ')}, "delayMs"?: whole milliseconds 0-${MAX_DELAY_MS}} as a JSON body or as ?mode=…&delayMs=… query parameters`;

function invalidMode(message: string): DemoHttpError {
  return new DemoHttpError(400, 'invalid_mode', `${message}; ${MODE_HELP}`, { allowed: { mode: DEMO_MODES, delayMs: `0-${MAX_DELAY_MS}` } });
}

/** Reads `{mode, delayMs}` from the query and/or a JSON body (the body wins where both give a value). */
export function parseModeChange(query: URLSearchParams, body: Buffer): { mode?: DemoMode; delayMs?: number } {
  const input: Record<string, unknown> = {};
  for (const [key, value] of query) {
    if (key !== 'mode' && key !== 'delayMs') throw invalidMode(`unknown query parameter "${key}"`);
    input[key] = key === 'delayMs' && /^\d+$/.test(value) ? Number(value) : value;
  }
  if (body.length > 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw invalidMode('the body is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidMode('the body must be a JSON object');
    for (const [key, value] of Object.entries(parsed)) {
      if (key !== 'mode' && key !== 'delayMs') throw invalidMode(`unknown member "${key}"`);
      input[key] = value;
    }
  }
  if (input.mode === undefined && input.delayMs === undefined) throw invalidMode('nothing to change');
  const change: { mode?: DemoMode; delayMs?: number } = {};
  if (input.mode !== undefined) {
    if (typeof input.mode !== 'string' || !(DEMO_MODES as readonly string[]).includes(input.mode)) {
      throw invalidMode(`invalid mode ${JSON.stringify(input.mode)}`);
    }
    change.mode = input.mode as DemoMode;
  }
  if (input.delayMs !== undefined) {
    const d = input.delayMs;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_DELAY_MS) throw invalidMode(`invalid delayMs ${JSON.stringify(d)}`);
    change.delayMs = d;
  }
  return change;
}

/* ------------------------------------------------------------------------------------------ */
/* Simulated business data (Capitex Företagslån)                                               */

interface Loan {
  id: string;
  orgNumber: string;
  borrower: string;
  product: string;
  amountSek: number;
  currency: 'SEK';
  interestRatePercent: number;
  termMonths: number;
  amortization: string;
  purpose: string;
  status: string;
  createdAt: string;
  updatedAt: string;
  [key: string]: unknown;
}

interface ArchivedDocument {
  id: string;
  title: string;
  loanId: string | null;
  orgNumber: string | null;
  contentType: string;
  sizeBytes: number;
  sha256: string;
  archivedAt: string;
}

interface DemoData {
  loans: Map<string, Loan>;
  documents: Map<string, ArchivedDocument>;
  nextLoanId: number;
  nextApplicationId: number;
  nextDocumentId: number;
}

/** Fictional companies with valid Swedish organisation numbers (Luhn check digit). */
const COMPANIES: Record<string, string> = {
  '556677-8899': 'Norrlandsbygg i Umeå AB',
  '559102-3451': 'Vätterns Fisk & Rökeri AB',
  '556123-4013': 'Mälardalens Verkstadsteknik AB',
  '556900-1232': 'Skånska Lantbruksmaskiner AB',
  '556447-8120': 'Göteborgs Kaffe & Konditori AB',
};

function seed(kind: DemoKind): DemoData {
  const loans = new Map<string, Loan>();
  const documents = new Map<string, ArchivedDocument>();
  if (kind === 'business') {
    const base = { product: 'Capitex Företagslån', currency: 'SEK' as const };
    for (const loan of [
      { id: '1001', orgNumber: '556677-8899', amountSek: 2_500_000, interestRatePercent: 5.45, termMonths: 60, amortization: 'straight', purpose: 'Ny hjullastare', status: 'active', createdAt: '2024-03-12T09:15:00.000Z' },
      { id: '1002', orgNumber: '559102-3451', amountSek: 750_000, interestRatePercent: 6.1, termMonths: 36, amortization: 'annuity', purpose: 'Rörelsekapital inför högsäsong', status: 'approved', createdAt: '2024-11-04T13:40:00.000Z' },
      { id: '1003', orgNumber: '556123-4013', amountSek: 4_200_000, interestRatePercent: 4.95, termMonths: 84, amortization: 'straight', purpose: 'CNC-maskin och lokalanpassning', status: 'in-review', createdAt: '2025-01-20T08:05:00.000Z' },
    ]) {
      loans.set(loan.id, { ...base, ...loan, borrower: COMPANIES[loan.orgNumber] ?? 'Okänt AB', updatedAt: loan.createdAt });
    }
  }
  if (kind === 'archive') {
    for (const doc of [
      { id: 'D-5001', title: 'Årsredovisning 2023', loanId: '1001', orgNumber: '556677-8899', contentType: 'application/pdf', sizeBytes: 482_113, archivedAt: '2024-03-10T10:00:00.000Z' },
      { id: 'D-5002', title: 'Låneavtal Capitex Företagslån 1001', loanId: '1001', orgNumber: '556677-8899', contentType: 'application/pdf', sizeBytes: 96_530, archivedAt: '2024-03-12T09:20:00.000Z' },
      { id: 'D-5003', title: 'Företagsinteckning, pantbrev', loanId: '1003', orgNumber: '556123-4013', contentType: 'application/pdf', sizeBytes: 57_204, archivedAt: '2025-01-21T14:30:00.000Z' },
    ]) {
      documents.set(doc.id, { ...doc, sha256: sha256(doc.id) });
    }
  }
  return { loans, documents, nextLoanId: 1004, nextApplicationId: 1, nextDocumentId: 5004 };
}

function businessRoutes(kind: DemoKind, data: () => DemoData): Route[] {
  const route = (path: string, methods: Route['methods']): Route => ({ segments: splitPath(path), methods });
  switch (kind) {
    case 'business':
      return [
        route('/loans', {
          GET: () => {
            const items = [...data().loans.values()];
            return { status: 200, body: { items, total: items.length } };
          },
          POST: ({ body }) => {
            const input = jsonObject(body);
            const orgNumber = requireOrgNumber(input.orgNumber);
            const amountSek = requireAmount(input.amountSek);
            const now = new Date().toISOString();
            const d = data();
            const id = String(d.nextLoanId++);
            const loan: Loan = {
              product: 'Capitex Företagslån',
              interestRatePercent: 5.75,
              termMonths: 60,
              amortization: 'straight',
              purpose: '',
              status: 'pending',
              borrower: COMPANIES[orgNumber] ?? `Företag ${orgNumber} AB`,
              ...input,
              id,
              orgNumber,
              amountSek,
              currency: 'SEK',
              createdAt: now,
              updatedAt: now,
            };
            d.loans.set(id, loan);
            return { status: 201, body: loan, headers: { Location: `/loans/${id}` } };
          },
        }),
        route('/loans/:id', {
          GET: ({ params }) => ({ status: 200, body: findLoan(data(), params.id) }),
          PUT: ({ params, body }) => {
            const loan = findLoan(data(), params.id);
            const input = jsonObject(body);
            const updated: Loan = { ...loan, ...input, id: loan.id, currency: 'SEK', createdAt: loan.createdAt, updatedAt: new Date().toISOString() };
            if (input.orgNumber !== undefined) updated.orgNumber = requireOrgNumber(input.orgNumber);
            if (input.amountSek !== undefined) updated.amountSek = requireAmount(input.amountSek);
            data().loans.set(loan.id, updated);
            return { status: 200, body: updated };
          },
        }),
        route('/loan-applications', {
          POST: ({ body }) => {
            const input = jsonObject(body);
            const orgNumber = requireOrgNumber(input.orgNumber);
            const amountSek = requireAmount(input.amountSek);
            const { riskClass } = creditAssessment(orgNumber);
            const decision = riskClass >= 5 ? 'declined' : riskClass <= 2 && amountSek <= 5_000_000 ? 'approved' : 'referred';
            const reason = {
              approved: `risk class ${riskClass} and amount within the automatic limit`,
              referred: `risk class ${riskClass}${amountSek > 5_000_000 ? ' and amount above 5 000 000 SEK' : ''}: referred to a credit officer`,
              declined: `risk class ${riskClass}: outside the bank's credit policy`,
            }[decision];
            const d = data();
            const applicationId = `A-${String(d.nextApplicationId++).padStart(5, '0')}`;
            return {
              status: 201,
              body: {
                applicationId,
                orgNumber,
                applicant: COMPANIES[orgNumber] ?? `Företag ${orgNumber} AB`,
                product: 'Capitex Företagslån',
                amountSek,
                termMonths: typeof input.termMonths === 'number' ? input.termMonths : 60,
                purpose: typeof input.purpose === 'string' ? input.purpose : '',
                riskClass,
                decision,
                reason,
                receivedAt: new Date().toISOString(),
              },
              headers: { Location: `/loan-applications/${applicationId}` },
            };
          },
        }),
      ];
    case 'credit-bureau': {
      const report: Handler = ({ params }) => {
        const orgNumber = requireOrgNumber(params.orgNumber);
        const { riskClass, score, paymentRemarks } = creditAssessment(orgNumber);
        return {
          status: 200,
          body: {
            orgNumber,
            name: COMPANIES[orgNumber] ?? `Företag ${orgNumber} AB`,
            riskClass,
            riskDescription: ['', 'mycket låg risk', 'låg risk', 'normal risk', 'förhöjd risk', 'hög risk'][riskClass],
            score,
            paymentRemarks,
            bureau: 'Demo Kreditupplysning AB',
            reportedAt: new Date().toISOString(),
          },
        };
      };
      return [route('/reports/:orgNumber', { GET: report }), route('/credit-reports/:orgNumber', { GET: report })];
    }
    case 'archive':
      return [
        route('/documents', {
          POST: ({ body }) => {
            const input = jsonObject(body);
            if (typeof input.title !== 'string' || input.title.trim() === '') {
              throw new DemoHttpError(400, 'validation_failed', 'title: expected a non-empty string');
            }
            const content = typeof input.content === 'string' ? input.content : '';
            const d = data();
            const doc: ArchivedDocument = {
              id: `D-${d.nextDocumentId++}`,
              title: input.title,
              loanId: typeof input.loanId === 'string' ? input.loanId : null,
              orgNumber: input.orgNumber === undefined ? null : requireOrgNumber(input.orgNumber),
              contentType: typeof input.contentType === 'string' ? input.contentType : 'application/octet-stream',
              sizeBytes: Buffer.byteLength(content),
              sha256: sha256(content),
              archivedAt: new Date().toISOString(),
            };
            d.documents.set(doc.id, doc);
            return { status: 201, body: doc, headers: { Location: `/documents/${doc.id}` } };
          },
        }),
        route('/documents/:id', {
          GET: ({ params }) => {
            const doc = data().documents.get(params.id ?? '');
            if (!doc) throw new DemoHttpError(404, 'not_found', `no document ${params.id}`);
            return { status: 200, body: doc };
          },
        }),
      ];
  }
}

function findLoan(data: DemoData, id: string | undefined): Loan {
  const loan = data.loans.get(id ?? '');
  if (!loan) throw new DemoHttpError(404, 'not_found', `no loan ${id}`);
  return loan;
}

/** Deterministic per organisation number, so the same company always gets the same report. */
function creditAssessment(orgNumber: string): { riskClass: number; score: number; paymentRemarks: number } {
  const digits = orgNumber.replace('-', '');
  const h = createHash('sha256').update(digits).digest();
  const riskClass = ((h[0] ?? 0) % 5) + 1;
  const score = Math.max(1, 100 - (riskClass - 1) * 20 - ((h[1] ?? 0) % 20));
  const paymentRemarks = riskClass >= 4 ? ((h[2] ?? 0) % 3) + 1 : 0;
  return { riskClass, score, paymentRemarks };
}

/** `NNNNNN-NNNN` (the hyphen optional on input) with a valid Luhn check digit. */
function requireOrgNumber(value: unknown): string {
  const parsed = parseOrgNumber(value);
  if (!parsed.ok) throw new DemoHttpError(400, 'validation_failed', `orgNumber: ${parsed.message}`);
  return parsed.value;
}

function requireAmount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1_000_000_000) {
    throw new DemoHttpError(400, 'validation_failed', 'amountSek: expected a positive amount in SEK');
  }
  return value;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP plumbing                                                                               */

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new DemoHttpError(400, 'invalid_json', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

function jsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new DemoHttpError(400, 'invalid_json', 'expected a JSON object as the request body');
  const parsed = parseJson(body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DemoHttpError(400, 'invalid_json', 'expected a JSON object as the request body');
  }
  return parsed as Record<string, unknown>;
}

/**
 * The whole body, or 'too-large' once it passes MAX_BODY_BYTES. An oversized body is still
 * drained (not kept) so that the 413 reaches a client that is busy sending; one that goes on
 * past DRAIN_LIMIT_BYTES is cut off.
 */
function readBody(req: http.IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else chunks.length = 0;
      if (size > DRAIN_LIMIT_BYTES) req.destroy();
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
    // The caller went away mid-body: there is no one to answer.
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

function sendReply(res: http.ServerResponse, reply: AppReply): void {
  if (res.headersSent || res.destroyed) return;
  if (reply.status === 204) {
    res.writeHead(204, { 'Cache-Control': 'no-store', ...reply.headers });
    res.end();
    return;
  }
  if (!reply.raw) return send(res, reply.status, reply.body ?? {}, reply.headers);
  const data = typeof reply.raw.data === 'string' ? Buffer.from(reply.raw.data) : reply.raw.data;
  res.writeHead(reply.status, { 'Cache-Control': 'no-store', ...reply.headers, 'Content-Type': reply.raw.contentType, 'Content-Length': String(data.length) });
  res.end(data);
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function match(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const s = segments[i] as string;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(s);
      } catch {
        throw new DemoHttpError(400, 'bad_request', 'the path holds an invalid percent-encoding');
      }
    } else if (p !== s) {
      return undefined;
    }
  }
  return params;
}

/** Wildcard listen addresses are reached through loopback; IPv6 literals need brackets. */
function urlHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
