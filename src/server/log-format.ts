import path from 'node:path';
import pino, { type DestinationStream } from 'pino';
import type { PrettyTransportOptions } from './pretty-transport';

/** `log.format` as configured. */
export type LogFormatSetting = 'auto' | 'json' | 'pretty';

/**
 * JSON lines are for machines (a container's log driver, a file, a pipe into jq) and stay
 * the default; a person at a terminal gets pino-pretty's lines. `auto` tells them apart by
 * whether stdout is a terminal.
 */
export function chooseLogFormat(setting: LogFormatSetting, stdoutIsTerminal: boolean): 'json' | 'pretty' {
  if (setting === 'auto') return stdoutIsTerminal ? 'pretty' : 'json';
  return setting;
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything but empty (no-color.org). */
export function useColor(stdoutIsTerminal: boolean, env: NodeJS.ProcessEnv): boolean {
  return stdoutIsTerminal && !env.NO_COLOR;
}

/**
 * Pretty lines on stdout through pino's own transport: pino-pretty in a worker thread, which
 * pino flushes when the process exits. Loads the compiled pretty-transport.js beside this
 * file, so it works from the build (dist/, the CLI), not from TypeScript sources under Jest.
 */
export function createPrettyDestination(colorize: boolean): DestinationStream {
  const options: PrettyTransportOptions = { colorize };
  return pino.transport({ target: path.join(__dirname, 'pretty-transport.js'), options });
}
