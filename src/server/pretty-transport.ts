import pinoPretty, { type PrettyOptions } from 'pino-pretty';
import { isObject } from '../core/is-object';

/*
 * The pretty log transport: pino loads this module in its worker thread (pino.transport), so
 * formatting costs the event loop nothing. A module of its own because pino-pretty's
 * `messageFormat` is a function here, and functions cannot be passed to a worker as options.
 */

/** What the main thread passes: whether to colour (a terminal that did not ask for NO_COLOR). */
export interface PrettyTransportOptions {
  colorize: boolean;
}

type Colors = Parameters<Extract<NonNullable<PrettyOptions['messageFormat']>, (...args: never[]) => string>>[3]['colors'];

/**
 * A request line reads `GET /api/loans → 200 8 ms request completed`; its other members
 * (requestId, route, upstream, breaker, code) follow on the same line. Other lines keep
 * their message, which already says what happened (`breaker business: open → half-open …`).
 */
export function formatMessage(log: Record<string, unknown>, messageKey: string, _levelLabel: string, extras: { colors: Colors }): string {
  const msg = String(log[messageKey] ?? '');
  const req = isObject(log.req) ? log.req : undefined;
  const res = isObject(log.res) ? log.res : undefined;
  if (req === undefined && res === undefined) return msg;
  const { colors } = extras;
  const parts: string[] = [];
  if (req !== undefined) parts.push(colors.bold(`${String(req.method ?? '?')} ${String(req.path ?? '')}`));
  if (res !== undefined) {
    const status = typeof res.status === 'number' ? res.status : null;
    const paint = status === null || status >= 500 ? colors.red : status >= 400 ? colors.yellow : colors.green;
    parts.push(`→ ${paint(status === null ? 'aborted' : String(status))}`);
  }
  if (typeof log.durationMs === 'number') parts.push(`${log.durationMs} ms`);
  return `${parts.join(' ')} ${msg}`;
}

/** pino-pretty's options for the gateway's lines: one line each, local time, no noise. */
export function prettyOptions(colorize: boolean): PrettyOptions {
  return {
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    // `service` is the same on every line; req, res and durationMs are in the message.
    ignore: 'pid,hostname,service,req,res,durationMs',
    singleLine: true,
    messageFormat: formatMessage,
  };
}

/** The transport pino starts in its worker: pino-pretty writing to stdout. */
export default function prettyTransport(options: PrettyTransportOptions): ReturnType<typeof pinoPretty> {
  // sync: the worker may block on its own writes; it must not lose lines when the process exits.
  return pinoPretty({ ...prettyOptions(options.colorize), destination: 1, sync: true });
}
