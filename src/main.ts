#!/usr/bin/env node
import { parseArgs, USAGE, UsageError } from './cli';
import { ConfigError, ConfigFileError, loadConfigFile } from './config/load';
import type { GatewayConfig } from './config/types';
import { DEMO_CONFIG_PATH, startDemoUpstreams } from './demo';
import { Gateway } from './gateway';
import pino, { type Logger } from 'pino';
import { TurnBatchedDestination } from './server/log-destination';
import { chooseLogFormat, createPrettyDestination, useColor, type LogFormatSetting } from './server/log-format';
import { createLogger } from './server/logging';

/** CLI entry (SPEC §2): arguments, configuration, start, signals, exit codes. */
async function main(): Promise<number> {
  let command;
  try {
    command = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`breakwater: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const file = command.kind === 'check' ? command.configFile : command.configFile ?? DEMO_CONFIG_PATH;
  let config: GatewayConfig;
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // An unreadable file's message already names it; an invalid one's lists keys, not the file.
    process.stderr.write(`breakwater: ${err instanceof ConfigFileError ? err.message : `${file}: ${err.message}`}\n`);
    return 1;
  }
  if (command.kind === 'check') {
    process.stdout.write(`${file}: configuration is valid (${config.upstreams.length} upstreams, ${config.routes.length} routes)\n`);
    return 0;
  }

  const logger = createLogger(config.log.level, logDestination(config.log.format));
  routeProcessWarnings(logger);
  const demo = command.configFile === null ? await startDemoUpstreams() : null;
  if (demo) logger.info({ event: 'demo', upstreams: demo.upstreams.map((u) => ({ name: u.name, url: u.url })) }, 'demo upstreams started');
  const gateway = new Gateway(config, { logger });
  await gateway.start();

  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (kept running)'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection (kept running)'));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: closing at once');
        void gateway.close().then(() => resolve(0));
        return;
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      void gateway
        .shutdown()
        .then(() => demo?.close())
        .then(() => resolve(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // Only with TLS: otherwise SIGHUP keeps its usual meaning (the process ends with its terminal).
    if (gateway.hasTls) {
      process.on('SIGHUP', () => {
        logger.info({ signal: 'SIGHUP' }, 'reloading TLS certificates');
        gateway.reloadTls();
      });
    }
  });
}

/** stdout for the log: pretty lines for a person at a terminal (or when configured), JSON lines otherwise. */
function logDestination(setting: LogFormatSetting): pino.DestinationStream {
  const terminal = process.stdout.isTTY === true;
  if (chooseLogFormat(setting, terminal) === 'pretty') return createPrettyDestination(useColor(terminal, process.env));
  // One write per event-loop turn rather than per line; whatever is pending goes out on exit.
  const destination = new TurnBatchedDestination(pino.destination({ dest: 1, sync: true }));
  process.on('exit', () => destination.flush());
  return destination;
}

/**
 * Node prints process warnings to stderr as plain text; the gateway logs them as JSON lines
 * like everything else. http-proxy (under http-proxy-middleware 3) calls util._extend, which
 * Node 22+ flags as DEP0060 on the first proxied request: known and harmless, so debug level.
 */
function routeProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    const level = warning.code === 'DEP0060' ? 'debug' : 'warn';
    logger[level]({ event: 'process-warning', name: warning.name, code: warning.code, message: warning.message }, 'process warning');
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`breakwater: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
