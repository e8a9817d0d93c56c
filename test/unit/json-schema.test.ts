/**
 * The published JSON Schema of the configuration (schema/gateway.schema.json): in step with
 * the zod schema it is generated from, and in agreement with the loader, so that an editor
 * never flags a file the gateway accepts, and flags by key what the gateway refuses by key.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { configJsonSchema, configJsonSchemaText, JSON_SCHEMA_FILE, type JsonSchema } from '../../src/config/json-schema';
import { ConfigError, parseConfig, parseConfigText } from '../../src/config/load';
import { validate } from '../helpers/openapi';

const ROOT = path.join(__dirname, '..', '..');
const schema = configJsonSchema();
/** Errors of `value` against the configuration's JSON Schema; empty when it conforms. */
const schemaErrors = (value: unknown): string[] => validate(schema, value, schema as JsonSchema);

/** What the gateway says: null when it accepts the configuration, else its issues. */
function gatewayIssues(raw: unknown): readonly string[] | null {
  try {
    parseConfig(raw);
    return null;
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

const minimal = (): Record<string, unknown> => ({
  upstreams: { business: { url: 'http://127.0.0.1:9001' } },
  routes: [{ path: '/api/loans', upstream: 'business' }],
});

describe('configuration JSON Schema', () => {
  it(`${JSON_SCHEMA_FILE} is what \`npm run schema\` generates from src/config/schema.ts`, () => {
    const file = path.join(ROOT, JSON_SCHEMA_FILE);
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : '(missing)';
    if (committed !== configJsonSchemaText()) {
      throw new Error(`${JSON_SCHEMA_FILE} is out of step with src/config/schema.ts. Regenerate it with \`npm run schema\` and commit ${JSON_SCHEMA_FILE}.`);
    }
    expect(JSON.parse(committed)).toEqual(schema);
  });

  it('is a draft-07 schema that refuses unknown keys at every level', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schemaErrors(minimal())).toEqual([]);
    expect(schemaErrors({ ...minimal(), listn: {} })).toEqual(['$: unexpected member listn']);
    const nested = minimal();
    nested.listen = { prot: 8080 };
    nested.upstreams = { business: { url: 'http://127.0.0.1:9001', timeoutMS: 5 } };
    nested.routes = [{ path: '/api', upstream: 'business', method: ['GET'] }];
    expect(schemaErrors(nested).sort()).toEqual(['$.listen: unexpected member prot', '$.routes[0]: unexpected member method', '$.upstreams.business: unexpected member timeoutMS']);
  });

  it.each<[string, (c: Record<string, unknown>) => void, string]>([
    ['a port out of range', (c) => void (c.listen = { port: 70000 }), '$.listen.port'],
    ['a timeout of zero', (c) => void (c.defaults = { timeoutMs: 0 }), '$.defaults.timeoutMs'],
    ['a timeout Node cannot hold', (c) => void (c.defaults = { timeoutMs: 2147483648 }), '$.defaults.timeoutMs'],
    ['a 4xx failure status', (c) => void (c.defaults = { failureStatuses: [429] }), '$.defaults.failureStatuses[0]'],
    ['an unknown log level', (c) => void (c.log = { level: 'verbose' }), '$.log.level'],
    ['a number as text', (c) => void (c.listen = { port: '8080' }), '$.listen.port'],
    ['a bad upstream name', (c) => void (c.upstreams = { 'bad name': { url: 'http://127.0.0.1:1' } }), '$.upstreams["bad name"] (name)'],
    ['no upstreams', (c) => void (c.upstreams = {}), '$.upstreams'],
    ['a route without upstream', (c) => void (c.routes = [{ path: '/x' }]), '$.routes[0]'],
    ['an unknown method', (c) => void (c.routes = [{ path: '/x', upstream: 'business', methods: ['FETCH'] }]), '$.routes[0].methods[0]'],
    ['a route path with a trailing slash', (c) => void (c.routes = [{ path: '/x/', upstream: 'business' }]), '$.routes[0].path'],
  ])('flags %s where the gateway does', (_name, mutate, at) => {
    const config = minimal();
    mutate(config);
    const errors = schemaErrors(config);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.startsWith(at))).toBe(true);
    expect(gatewayIssues(config)).not.toBeNull();
  });

  it('admits a whole-value ${VAR} reference where the gateway reads one as a number, boolean or word', () => {
    // Block style, as an editor's YAML parser reads the file before any reference is replaced
    // (in a flow mapping, `{ port: ${PORT} }`, the braces would be YAML's own).
    const text = ['listen:', '  port: ${PORT:-8181}', 'log:', '  level: ${LOG_LEVEL:-debug}', 'upstreams:', '  business:', '    url: ${URL}', 'routes:', '  - path: /api', '    upstream: business', '    stripPrefix: ${STRIP:-true}'].join('\n');
    expect(schemaErrors(parseYaml(text))).toEqual([]);
    const config = parseConfigText(text, 'yaml', { URL: 'http://127.0.0.1:9001' });
    expect(config.listen.port).toBe(8181);
    expect(config.log.level).toBe('debug');
    expect(config.routes[0]?.stripPrefix).toBe(true);
    // Text around a reference is no whole value: the gateway reads it as text, the schema too.
    expect(schemaErrors(parseYaml(text.replace('${PORT:-8181}', '80${N}')))).toEqual(['$.listen.port: matches none of anyOf']);
  });

  it('the demo configuration names the schema for editors and conforms to it', () => {
    const file = path.join(ROOT, 'src', 'demo', 'demo-config.yaml');
    const text = readFileSync(file, 'utf8');
    const named = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text.split('\n')[0] ?? '');
    expect(named).not.toBeNull();
    expect(path.resolve(path.dirname(file), named?.[1] ?? '')).toBe(path.join(ROOT, JSON_SCHEMA_FILE));
    expect(schemaErrors(parseYaml(text))).toEqual([]);
  });

  it('the documented list of every key (docs/configuration.md) conforms to it', () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const block = /All keys\s+with their defaults:\s+```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    expect(schemaErrors(parseYaml(block ?? ''))).toEqual([]);
  });

  it('the editor example of docs/configuration.md names the schema, conforms to it and loads', () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const block = /```yaml\n(# yaml-language-server: \$schema=(\S+)\n[\s\S]*?)```/.exec(doc);
    expect(block).not.toBeNull();
    // The example is a gateway.yaml at the repository's root.
    expect(path.resolve(ROOT, block?.[2] ?? '')).toBe(path.join(ROOT, JSON_SCHEMA_FILE));
    expect(schemaErrors(parseYaml(block?.[1] ?? ''))).toEqual([]);
    expect(parseConfigText(block?.[1] ?? '', 'yaml', {}).listen.port).toBe(8080);
  });

  it('the gateway accepts a top-level $schema key, as JSON files name their schema', () => {
    const text = JSON.stringify({ $schema: '../schema/gateway.schema.json', ...minimal() });
    expect(parseConfigText(text, 'json', {}).routes).toHaveLength(1);
    expect(schemaErrors(JSON.parse(text))).toEqual([]);
  });

  it('property: every configuration the gateway accepts, the schema accepts (an editor never flags a good file)', () => {
    const valid = (): Record<string, unknown> => ({
      listen: { host: '127.0.0.1', port: 0, trustedProxies: ['10.0.0.0/8'], requestTimeoutMs: 30000, maxHeaderBytes: 16384 },
      admin: { port: 9091, token: null },
      shutdown: { drainTimeoutMs: 0 },
      log: { level: 'warn' },
      defaults: { timeoutMs: 10000, failureStatuses: [500, 503], breaker: { errorThresholdPercentage: 12.5, volumeThreshold: 0 } },
      upstreams: {
        business: { url: 'http://127.0.0.1:9001', breaker: { resetTimeoutMs: 100 }, healthCheck: { path: '/health', instanceIdField: 'id' } },
        'credit-bureau': { url: 'https://127.0.0.1:9002', tls: { rejectUnauthorized: false, ca: '', servername: 'x' } },
      },
      routes: [
        { path: '/api/loans', upstream: 'business', methods: ['GET', 'HEAD'], stripPrefix: true, requires: ['credit-bureau'], maxBodyBytes: 0, preflight: 'probe', preflightCacheMs: 1 },
        { path: '/', upstream: 'credit-bureau' },
      ],
    });
    const leaves: [string[], unknown][] = [];
    const walk = (v: unknown, at: string[]): void => {
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) for (const [k, c] of Object.entries(v)) walk(c, [...at, k]);
      else leaves.push([at, v]);
    };
    walk(valid(), []);
    const value = fc.oneof(
      fc.constantFrom<unknown>(null, true, false, 0, -1, 1, 1.5, 100, 101, 499, 500, 599, 600, 65535, 65536, 2147483647, 2147483648, '', 'x', '/x', 'GET', 'info', 'probe', '${X}', [], [500], ['GET'], {}),
      fc.integer({ min: -10, max: 3000000000 }),
      fc.string({ maxLength: 8 }),
    );
    const base = valid();
    expect(gatewayIssues(base)).toBeNull();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...leaves.map(([p]) => p)), value), { minLength: 1, maxLength: 3 }), (changes) => {
        const config = structuredClone(base);
        for (const [at, v] of changes) {
          let node = config as Record<string, unknown>;
          for (const key of at.slice(0, -1)) node = node[key] as Record<string, unknown>;
          node[at[at.length - 1] as string] = v;
        }
        if (gatewayIssues(config) === null) expect(schemaErrors(config)).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });
});
