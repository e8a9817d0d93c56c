/** SPEC §2 command line: what each argument list means, and UsageError (exit 2) for the rest. */
import { parseArgs, USAGE, UsageError } from '../../src/cli';

describe('parseArgs', () => {
  it.each([
    [[], {}, { kind: 'run', configFile: null }],
    [['--config', 'gw.yaml'], {}, { kind: 'run', configFile: 'gw.yaml' }],
    [['-c', 'gw.yaml'], {}, { kind: 'run', configFile: 'gw.yaml' }],
    [['--config=gw.json'], {}, { kind: 'run', configFile: 'gw.json' }],
    [['--check-config', 'gw.yaml'], {}, { kind: 'check', configFile: 'gw.yaml' }],
    [['--check-config=gw.yaml'], {}, { kind: 'check', configFile: 'gw.yaml' }],
    [['--help'], {}, { kind: 'help' }],
    [['-h', '--bogus'], {}, { kind: 'help' }],
    [[], { GATEWAY_CONFIG: 'env.yaml' }, { kind: 'run', configFile: 'env.yaml' }],
    [[], { GATEWAY_CONFIG: '' }, { kind: 'run', configFile: null }],
    [['--config', 'arg.yaml'], { GATEWAY_CONFIG: 'env.yaml' }, { kind: 'run', configFile: 'arg.yaml' }],
    [['--check-config', 'c.yaml'], { GATEWAY_CONFIG: 'env.yaml' }, { kind: 'check', configFile: 'c.yaml' }],
  ])('%j with env %j → %j', (argv, env, expected) => {
    expect(parseArgs(argv, env)).toEqual(expected);
  });

  it.each([
    [['--bogus'], 'unknown argument: --bogus'],
    [['gw.yaml'], 'unknown argument: gw.yaml'],
    [['--config'], '--config needs a file name'],
    [['--config='], '--config needs a file name'],
    [['--config', '--check-config', 'x'], '--config needs a file name'],
    [['--check-config'], '--check-config needs a file name'],
    [['--config', 'a', '--config', 'b'], '--config given twice'],
    [['--check-config', 'a', '--check-config', 'b'], '--check-config given twice'],
    [['--config', 'a', '--check-config', 'b'], 'use either --config or --check-config, not both'],
  ])('%j is a usage error: %s', (argv, message) => {
    expect(() => parseArgs(argv, {})).toThrow(UsageError);
    expect(() => parseArgs(argv, {})).toThrow(message);
  });

  it('the usage text documents every flag and the exit codes', () => {
    for (const text of ['--config FILE', '--check-config FILE', '--help', 'GATEWAY_CONFIG', '0 clean shutdown', '1 invalid configuration', '2 bad usage']) {
      expect(USAGE).toContain(text);
    }
  });
});
