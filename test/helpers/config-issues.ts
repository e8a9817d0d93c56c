import { ConfigError } from '../../src/config/load';

/** The issues a configuration is refused with (fails the test if `fn` accepts it). */
export function issuesOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('configuration was accepted');
}
