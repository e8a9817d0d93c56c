/**
 * The gateway's RFC 9457 problem as a caller sees it (README "Error responses"), and the error
 * the client rejects with. Only the members decide anything; `title` and `detail` are prose.
 */

/** A problem the gateway itself answered with. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Stable error code, e.g. `UPSTREAM_TIMEOUT`, `CIRCUIT_OPEN`, `SESSION_LOST`. */
  code: string;
  /** The same request, sent again later, is both safe and may succeed. */
  retryable: boolean;
  /** False only when no byte of the request reached any upstream. */
  forwarded: boolean;
  upstream?: string;
  retryAfterSeconds?: number;
  requestId?: string;
  attempts?: number;
  /** DEPENDENCY_UNAVAILABLE: the upstreams that were not available. */
  unavailable?: string[];
  [member: string]: unknown;
}

/** Rejection of `client.request()` for a gateway problem that was not (or no longer) retried. */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  /** The Retry-After wait in milliseconds, when the answer carried one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    /** The parsed problem members. */
    readonly problem: Problem,
    /** The gateway's answer (its body already read). */
    readonly response: Response,
    /** Attempts this client made, the last one included. */
    readonly attempts: number,
  ) {
    super(`${problem.code}: ${problem.detail ?? problem.title}`);
    this.retryAfterMs = retryAfterMs(response.headers.get('retry-after'), problem);
  }

  get code(): string {
    return this.problem.code;
  }
}

/**
 * The problem in `res`, or undefined when the answer is not one of the gateway's own: an
 * upstream's answers (problem+json included) pass through untouched unless they carry the
 * gateway's members (`code`, `retryable`, `forwarded`). Reads a clone, so `res` stays unread.
 */
export async function readProblem(res: Response): Promise<Problem | undefined> {
  if (!/^application\/problem\+json/i.test(res.headers.get('content-type') ?? '')) return undefined;
  let body: unknown;
  try {
    body = await res.clone().json();
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const p = body as Record<string, unknown>;
  if (typeof p.code !== 'string' || typeof p.retryable !== 'boolean' || typeof p.forwarded !== 'boolean') return undefined;
  return p as Problem;
}

/**
 * Milliseconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), else from
 * the problem's `retryAfterSeconds`; undefined when neither gives a wait.
 */
export function retryAfterMs(header: string | null, problem?: Pick<Problem, 'retryAfterSeconds'>, now = Date.now()): number | undefined {
  if (header !== null && header.trim() !== '') {
    const text = header.trim();
    if (/^\d+$/.test(text)) return Number(text) * 1000;
    const at = Date.parse(text);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const s = problem?.retryAfterSeconds;
  return typeof s === 'number' && Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}
