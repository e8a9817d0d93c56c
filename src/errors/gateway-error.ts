import { CATALOG, type ErrorCode } from './catalog';
import { StacklessError } from '../core/stackless-error';

/** Extra members of a problem beyond those derived from the catalog. */
export interface GatewayErrorOptions {
  /** Human-readable explanation for this occurrence; never a stack, host name or address. */
  detail?: string;
  /** Configured name of the upstream concerned. */
  upstream?: string;
  /** Seconds the caller should wait before trying again (also sent as `Retry-After`). */
  retryAfterSeconds?: number;
  /** Overrides the catalog's `forwarded` where the gateway knows better. */
  forwarded?: boolean;
  /** Members added to the problem body (e.g. `unavailable`). */
  extra?: Record<string, unknown>;
  /** Extra response headers (e.g. `Allow`). */
  headers?: Record<string, string>;
  /** The low-level error this one classifies, kept for logs only. */
  cause?: unknown;
}

/** A failure the gateway answers itself, carrying one catalog code (no stack: see StacklessError). */
export class GatewayError extends StacklessError {
  readonly code: ErrorCode;
  readonly status: number;
  readonly options: GatewayErrorOptions;

  constructor(code: ErrorCode, options: GatewayErrorOptions = {}) {
    super(options.detail ?? CATALOG[code].title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = CATALOG[code].status;
    this.options = options;
  }

  /** Whether this failure may have put bytes on an upstream's wire. */
  get forwarded(): boolean {
    return this.options.forwarded ?? CATALOG[this.code].forwarded;
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
