import { GatewayError } from '../../src/errors/gateway-error';
import { BreakerRejection, CountedFailure, IgnoredOutcome } from '../../src/upstreams/breaker';

describe('errors made on the request path', () => {
  it('capture no stack frames, keep message and instanceof, and leave Error.stackTraceLimit as it was', () => {
    const limit = Error.stackTraceLimit;
    const errors = [
      new GatewayError('CIRCUIT_OPEN', { detail: 'open' }),
      new BreakerRejection('open', null),
      new CountedFailure('timeout'),
      new IgnoredOutcome('caller went away'),
    ];
    for (const err of errors) {
      expect(err).toBeInstanceOf(Error);
      expect(err.stack).not.toMatch(/\n\s+at /);
    }
    expect(errors.map((e) => e.message)).toEqual(['open', 'breaker is open', 'timeout', 'caller went away']);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('ordinary').stack).toMatch(/\n\s+at /);
  });

  it('an internal error keeps the stack of its cause', () => {
    const cause = new Error('bug');
    const err = new GatewayError('INTERNAL_ERROR', { cause });
    expect(err.cause).toBe(cause);
    expect(cause.stack).toMatch(/\n\s+at /);
  });
});
