/** What the command line asked for (SPEC §2). */
export type CliCommand =
  | { kind: 'run'; configFile: string | null }
  | { kind: 'check'; configFile: string }
  | { kind: 'help' };

export class UsageError extends Error {}

export const USAGE = `Usage: breakwater [--config FILE] | --check-config FILE | --help

  (no arguments)       start the bundled demo: gateway + demo upstreams
  --config FILE        run the gateway on FILE (YAML or JSON); GATEWAY_CONFIG=FILE does the same
  --check-config FILE  validate FILE, print the problems, exit 0 (valid) or 1 (invalid)
  --help               show this text

Exit codes: 0 clean shutdown, 1 invalid configuration, 2 bad usage.`;

/** Parses argv (without node and script); throws UsageError for anything it does not understand. */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliCommand {
  let config: string | null = null;
  let check: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '' || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${flag} needs a file name`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        return { kind: 'help' };
      case '--config':
      case '-c':
        if (config !== null) throw new UsageError('--config given twice');
        config = value();
        break;
      case '--check-config':
        if (check !== null) throw new UsageError('--check-config given twice');
        check = value();
        break;
      default:
        throw new UsageError(`unknown argument: ${arg}`);
    }
  }
  if (check !== null && config !== null) throw new UsageError('use either --config or --check-config, not both');
  if (check !== null) return { kind: 'check', configFile: check };
  return { kind: 'run', configFile: config ?? (env.GATEWAY_CONFIG || null) };
}
