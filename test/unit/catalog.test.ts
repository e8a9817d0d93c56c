/**
 * The error catalog is part of the API (SPEC §4): every code unique, complete, as the spec's
 * table says, and documented in openapi.yaml and docs/errors.md (the reference the README links to).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CATALOG, ERROR_CODES, typeUri, type ErrorCode } from '../../src/errors/catalog';

const ROOT = path.join(__dirname, '..', '..');

/** SPEC §4's table: status and forwarded per code. */
const SPEC_TABLE: Record<ErrorCode, { status: number; forwarded: boolean }> = {
  ROUTE_NOT_FOUND: { status: 404, forwarded: false },
  METHOD_NOT_ALLOWED: { status: 405, forwarded: false },
  INVALID_REQUEST: { status: 400, forwarded: false },
  PAYLOAD_TOO_LARGE: { status: 413, forwarded: false },
  UNAUTHORIZED: { status: 401, forwarded: false },
  FORBIDDEN: { status: 403, forwarded: false },
  // Beyond SPEC §4's table: routes with `clientCert: required` (docs/tls.md).
  CLIENT_CERT_REQUIRED: { status: 403, forwarded: false },
  CIRCUIT_OPEN: { status: 503, forwarded: false },
  DEPENDENCY_UNAVAILABLE: { status: 503, forwarded: false },
  UPSTREAM_UNREACHABLE: { status: 502, forwarded: false },
  UPSTREAM_TIMEOUT: { status: 504, forwarded: true },
  UPSTREAM_CONNECTION_LOST: { status: 502, forwarded: true },
  UPSTREAM_BAD_RESPONSE: { status: 502, forwarded: true },
  UPSTREAM_TLS_ERROR: { status: 502, forwarded: false },
  REQUEST_TIMEOUT: { status: 408, forwarded: false },
  HEADERS_TOO_LARGE: { status: 431, forwarded: false },
  GATEWAY_OVERLOADED: { status: 503, forwarded: false },
  GATEWAY_SHUTTING_DOWN: { status: 503, forwarded: false },
  SESSION_LOST: { status: 409, forwarded: false },
  INTERNAL_ERROR: { status: 500, forwarded: true },
};

/** Transient per SPEC §4 notes: "not retryable", "not transient", or a wait that may help. */
const NOT_TRANSIENT: ErrorCode[] = ['ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'INVALID_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNAUTHORIZED', 'FORBIDDEN', 'CLIENT_CERT_REQUIRED', 'UPSTREAM_TLS_ERROR', 'REQUEST_TIMEOUT', 'HEADERS_TOO_LARGE', 'SESSION_LOST'];

describe('error catalog', () => {
  it('holds exactly the codes of SPEC §4 (and CLIENT_CERT_REQUIRED), each once', () => {
    expect([...ERROR_CODES].sort()).toEqual(Object.keys(SPEC_TABLE).sort());
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it.each(Object.entries(SPEC_TABLE))('%s has the status and forwarded of the spec table, a title and a type URI', (code, want) => {
    const entry = CATALOG[code as ErrorCode];
    expect(entry.status).toBe(want.status);
    expect(entry.forwarded).toBe(want.forwarded);
    expect(entry.title.trim().length).toBeGreaterThan(0);
    expect(typeof entry.transient).toBe('boolean');
    expect(entry.transient).toBe(!NOT_TRANSIENT.includes(code as ErrorCode));
    expect(typeUri(code as ErrorCode)).toMatch(/^\/problems\/[a-z]+(-[a-z]+)*$/);
  });

  it('type URIs and titles are unique per code', () => {
    expect(new Set(ERROR_CODES.map(typeUri)).size).toBe(ERROR_CODES.length);
    expect(new Set(ERROR_CODES.map((c) => CATALOG[c].title)).size).toBe(ERROR_CODES.length);
    expect(typeUri('CIRCUIT_OPEN')).toBe('/problems/circuit-open');
  });

  it.each(['openapi.yaml', 'docs/errors.md'])('every code is documented in %s', (file) => {
    const p = path.join(ROOT, file);
    expect(existsSync(p)).toBe(true);
    const text = readFileSync(p, 'utf8');
    const missing = ERROR_CODES.filter((code) => !new RegExp(`\\b${code}\\b`).test(text));
    expect(missing).toEqual([]);
  });
});
