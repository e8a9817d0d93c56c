/** The compact JSON Schema validator of test/helpers/openapi.ts, on the subset openapi.yaml uses. */
import { responseSchema, validate, validateComponent, type Schema } from '../helpers/openapi';

const doc = {
  paths: {
    '/x': {
      get: {
        responses: {
          '200': { content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } },
          '5XX': { $ref: '#/components/responses/Oops' },
        },
      },
    },
  },
  components: {
    responses: { Oops: { content: { 'application/problem+json': { schema: { type: 'object', required: ['code'] } } } } },
    schemas: {
      Thing: {
        type: 'object',
        required: ['id', 'tags'],
        additionalProperties: false,
        properties: {
          id: { type: 'integer', minimum: 1 },
          at: { type: ['string', 'null'], format: 'date-time' },
          kind: { type: 'string', enum: ['a', 'b'] },
          tags: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[a-z]+$' } },
          old: { type: 'string', nullable: true },
        },
      },
      Special: { allOf: [{ $ref: '#/components/schemas/Thing' }, { properties: { kind: { const: 'a' } } }] },
      Either: { oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'number' }] },
      NotB: { not: { const: 'b' } },
    },
  },
};

const errs = (schema: Schema, value: unknown): string[] => validate(schema, value, doc);

describe('openapi helper validator', () => {
  it('accepts a conforming value and reports each violation with its path', () => {
    expect(validateComponent('Thing', { id: 1, tags: ['x'], at: '2030-01-01T00:00:00.000Z', kind: 'a', old: null }, doc)).toEqual([]);
    expect(validateComponent('Thing', { id: 0, tags: [], at: 'yesterday', kind: 'c', extra: 1 }, doc).sort()).toEqual([
      '$.at: not an RFC 3339 date-time: yesterday',
      '$.id: below the minimum 1',
      '$.kind: expected one of ["a","b"], got "c"',
      '$.tags: fewer than 1 items',
      '$: unexpected member extra',
    ]);
    expect(validateComponent('Thing', { tags: ['Upper', 3] }, doc)).toEqual([
      '$: missing required member id',
      '$.tags[0]: does not match ^[a-z]+$',
      '$.tags[1]: expected string, got number',
    ]);
  });

  it('handles allOf/const, oneOf (exactly one), not, and type lists with null', () => {
    expect(validateComponent('Special', { id: 1, tags: ['x'], kind: 'b' }, doc)).toEqual(['$.kind: expected "a"']);
    expect(validateComponent('Either', 'x', doc)).toEqual([]);
    expect(validateComponent('Either', 2, doc)).toEqual(['$: matches 2 of oneOf, expected exactly 1']); // integer is a number too
    expect(validateComponent('NotB', 'a', doc)).toEqual([]);
    expect(validateComponent('NotB', 'b', doc)).toHaveLength(1);
    expect(errs({ type: ['string', 'null'] }, null)).toEqual([]);
    expect(errs({ type: 'integer' }, 1.5)).toEqual(['$: expected integer, got number']);
  });

  it('handles exclusive bounds, minProperties and propertyNames', () => {
    expect(errs({ type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: 10 }, 5)).toEqual([]);
    expect(errs({ type: 'integer', exclusiveMinimum: 0 }, 0)).toEqual(['$: not above 0']);
    expect(errs({ type: 'integer', exclusiveMaximum: 10 }, 10)).toEqual(['$: not below 10']);
    const names = { type: 'object', minProperties: 1, propertyNames: { pattern: '^[a-z]+$' } };
    expect(errs(names, { ok: 1 })).toEqual([]);
    expect(errs(names, {})).toEqual(['$: fewer than 1 members']);
    expect(errs(names, { Bad: 1 })).toEqual(['$["Bad"] (name): does not match ^[a-z]+$']);
  });

  it('finds a response schema by status, status range and $ref, and names what is missing', () => {
    expect(responseSchema('/x', 'GET', 200, 'application/json', doc)).toEqual({ $ref: '#/components/schemas/Thing' });
    expect(responseSchema('/x', 'get', 503, 'application/problem+json', doc)).toEqual({ type: 'object', required: ['code'] });
    expect(() => responseSchema('/x', 'get', 404, 'application/json', doc)).toThrow(/no response for 404/);
    expect(() => responseSchema('/y', 'get', 200, 'application/json', doc)).toThrow(/no path/);
  });

  it('loads the repository openapi.yaml, whose Problem schemas the gateway relies on', () => {
    const problem = { type: '/problems/dependency-unavailable', title: 't', status: 503, detail: 'd', instance: '/a', code: 'DEPENDENCY_UNAVAILABLE', retryable: true, forwarded: false, requestId: 'r', unavailable: ['x'] };
    expect(validateComponent('DependencyUnavailableProblem', problem)).toEqual([]);
    expect(validateComponent('DependencyUnavailableProblem', { ...problem, unavailable: [] })).toEqual(['$.unavailable: fewer than 1 items']);
    const schema = responseSchema('/{routePath}', 'get', 503, 'application/problem+json');
    expect(validate(schema, problem)).toEqual([]);
    expect(validate(schema, { ...problem, code: 'CIRCUIT_OPEN', type: '/problems/circuit-open', unavailable: undefined })).toEqual([]);
    // A DEPENDENCY_UNAVAILABLE problem without its list matches neither alternative.
    const { unavailable: _u, ...withoutList } = problem;
    expect(validate(schema, withoutList)).toEqual(['$: matches 0 of oneOf, expected exactly 1']);
  });
});
