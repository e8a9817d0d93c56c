import { DemoHttpError } from './demo-http';

/* What a demo upstream is switched to over HTTP (`/_demo/mode`). */

export type DemoMode = 'ok' | 'fail' | 'hang' | 'slow' | 'down';

export const DEMO_MODES: readonly DemoMode[] = ['ok', 'fail', 'hang', 'slow', 'down'];
export const DEFAULT_DELAY_MS = 3000;
export const MAX_DELAY_MS = 600_000;


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
