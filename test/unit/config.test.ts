/**
 * SPEC §3 configuration: defaults, `${VAR}` interpolation, strictness (unknown keys named by
 * path), every problem reported at once, cross-checks, YAML and JSON alike, a frozen result.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_UNTRUSTED_HEADERS } from '../../src/config/schema';
import { ConfigError, formatPath, loadConfigFile, parseConfig, parseConfigText } from '../../src/config/load';
import { TrustedProxies } from '../../src/proxy/forwarded-for';
import { issuesOf } from '../helpers/config-issues';

const minimal = (): Record<string, unknown> => ({
  upstreams: { business: { url: 'http://127.0.0.1:9001' } },
  routes: [{ path: '/api/loans', upstream: 'business' }],
});

describe('config defaults', () => {
  it('applies every documented default to a minimal file', () => {
    const c = parseConfig(minimal());
    expect(c.listen).toEqual({
      host: '0.0.0.0',
      port: 8080,
      trustedProxies: [],
      requestTimeoutMs: 30000,
      headersTimeoutMs: 10000,
      keepAliveTimeoutMs: 5000,
      maxHeaderBytes: 16384,
      untrustedHeaders: [...DEFAULT_UNTRUSTED_HEADERS],
      sendTimeoutMs: 30000,
    });
    // maxConnections has no static default: the gateway works it out from the fd limit.
    expect(c.listen.maxConnections).toBeUndefined();
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 9090, token: '', allowedHosts: [] });
    expect(c.shutdown).toEqual({ drainTimeoutMs: 10000 });
    expect(c.log).toEqual({ level: 'info', format: 'auto' });
    expect(c.upstreams).toEqual([
      {
        name: 'business',
        url: 'http://127.0.0.1:9001',
        // `url: X` is one target named <upstream>-1.
        targets: [{ name: 'business-1', url: 'http://127.0.0.1:9001' }],
        balance: 'least-request',
        retry: { attempts: 2, budgetPercent: 20, minRetryConcurrency: 3, onTimeout: false },
        connectTimeoutMs: 2000,
        timeoutMs: 10000,
        failureStatuses: [500, 502, 503, 504],
        maxConcurrent: 1000,
        breaker: { errorThresholdPercentage: 50, volumeThreshold: 5, resetTimeoutMs: 10000, rollingWindowMs: 10000 },
      },
    ]);
    expect(c.routes).toEqual([
      {
        path: '/api/loans', upstream: 'business', stripPrefix: false, requires: [], maxBodyBytes: 1048576, preflight: 'state', preflightCacheMs: 1000, clientCert: 'optional',
        delivery: 'direct', queue: { maxAttempts: 10, initialBackoffMs: 1000, maxBackoffMs: 60000, ttlMs: 86400000, keepHeaders: [] },
      },
    ]);
  });

  it('fills in healthCheck defaults when a healthCheck is given', () => {
    const c = parseConfig({ ...minimal(), upstreams: { business: { url: 'http://127.0.0.1:9001', healthCheck: {} } } });
    expect(c.upstreams[0]?.healthCheck).toEqual({ path: '/health', intervalMs: 2000, timeoutMs: 1000, unhealthyThreshold: 2, healthyThreshold: 1, instanceIdField: 'instanceId' });
  });

  it('merges `defaults` into every upstream, the upstream\'s own keys winning (breaker key by key)', () => {
    const c = parseConfig({
      defaults: { timeoutMs: 3000, failureStatuses: [503], breaker: { volumeThreshold: 10, resetTimeoutMs: 500 } },
      upstreams: {
        a: { url: 'http://a.internal:1' },
        b: { url: 'https://b.internal/', timeoutMs: 700, breaker: { resetTimeoutMs: 2000 }, tls: { ca: 'PEM' } },
      },
      routes: [{ path: '/a', upstream: 'a' }, { path: '/b', upstream: 'b' }],
    });
    const [a, b] = c.upstreams;
    expect(a).toMatchObject({ timeoutMs: 3000, failureStatuses: [503], breaker: { volumeThreshold: 10, resetTimeoutMs: 500, errorThresholdPercentage: 50 } });
    expect(b).toMatchObject({ url: 'https://b.internal', timeoutMs: 700, breaker: { volumeThreshold: 10, resetTimeoutMs: 2000 } });
    expect(b?.tls).toEqual({ rejectUnauthorized: true, ca: 'PEM' });
  });
});

describe('environment interpolation', () => {
  const yaml = (listen: string): string => `listen: ${listen}\nupstreams:\n  b: { url: http://127.0.0.1:9001 }\nroutes:\n  - { path: /b, upstream: b }\n`;

  it('replaces ${VAR} before parsing, so a number stays a number', () => {
    const c = parseConfigText(yaml('{ port: ${GW_PORT} }'), 'yaml', { GW_PORT: '8181' });
    expect(c.listen.port).toBe(8181);
  });

  it('uses ${VAR:-default} when the variable is unset or empty, and the value when set', () => {
    expect(parseConfigText(yaml('{ port: ${GW_PORT:-8282} }'), 'yaml', {}).listen.port).toBe(8282);
    expect(parseConfigText(yaml('{ port: ${GW_PORT:-8282} }'), 'yaml', { GW_PORT: '' }).listen.port).toBe(8282);
    expect(parseConfigText(yaml('{ port: ${GW_PORT:-8282} }'), 'yaml', { GW_PORT: '8383' }).listen.port).toBe(8383);
  });

  it('allows an empty default (admin.token: ${ADMIN_TOKEN:-})', () => {
    const text = `${yaml('{ port: 1 }')}admin: { token: "\${ADMIN_TOKEN:-}" }\n`;
    expect(parseConfigText(text, 'yaml', {}).admin.token).toBe('');
    expect(parseConfigText(text, 'yaml', { ADMIN_TOKEN: 's3cret' }).admin.token).toBe('s3cret');
  });

  it('refuses an unset ${VAR} without a default, naming it and the key that holds it (SPEC §2)', () => {
    const issues = issuesOf(() => parseConfigText(yaml('{ port: ${GW_MISSING} }'), 'yaml', {}));
    expect(issues).toContain('listen.port: environment variable GW_MISSING is not set and has no default (use ${GW_MISSING:-default})');
  });

  it('says nothing more about a key whose whole value was an unset variable', () => {
    expect(issuesOf(() => parseConfigText(yaml('{ port: ${GW_MISSING} }'), 'yaml', {}))).toEqual([
      'listen.port: environment variable GW_MISSING is not set and has no default (use ${GW_MISSING:-default})',
    ]);
    const text = 'upstreams:\n  b: { url: "http://${UP_HOST}:9001" }\nroutes:\n  - { path: /b, upstream: "${UP_NAME}" }\n';
    expect(issuesOf(() => parseConfigText(text, 'yaml', {}))).toEqual([
      expect.stringMatching(/^upstreams\.b\.url: environment variable UP_HOST is not set/),
      expect.stringMatching(/^routes\[0\]\.upstream: environment variable UP_NAME is not set/),
    ]);
  });

  it('still reports a key that is unknown whatever the unset variable would hold', () => {
    expect(issuesOf(() => parseConfigText(yaml('{ prot: ${GW_MISSING} }'), 'yaml', {}))).toEqual([
      'listen.prot: environment variable GW_MISSING is not set and has no default (use ${GW_MISSING:-default})',
      'listen.prot: unknown key',
    ]);
  });

  it('refuses an unset ${VAR} even when the rest of the file is valid with the empty string it leaves', () => {
    const text = `${yaml('{ port: 1 }')}admin: { token: "\${GW_TOKEN_UNSET}" }\n`;
    expect(issuesOf(() => parseConfigText(text, 'yaml', {}))).toEqual([
      'admin.token: environment variable GW_TOKEN_UNSET is not set and has no default (use ${GW_TOKEN_UNSET:-default})',
    ]);
  });

  it('names an unset ${VAR} in a key, which has no key path, by its line', () => {
    const text = `${yaml('{ port: 1 }')}upstreams2:\n  \${GW_KEY_UNSET}: 1\n`;
    expect(issuesOf(() => parseConfigText(text, 'yaml', {}))).toEqual(
      expect.arrayContaining(['line 7: environment variable GW_KEY_UNSET is not set and has no default (use ${GW_KEY_UNSET:-default})']),
    );
  });

  it('names the key in JSON files too, and in a list', () => {
    const text = '{ "listen": { "port": ${GW_PORT}, "trustedProxies": ["${PROXY}"] }, "upstreams": { "b": { "url": "http://127.0.0.1:1" } }, "routes": [{ "path": "/b", "upstream": "b" }] }';
    expect(issuesOf(() => parseConfigText(text, 'json', {}))).toEqual([
      'listen.port: environment variable GW_PORT is not set and has no default (use ${GW_PORT:-default})',
      'listen.trustedProxies[0]: environment variable PROXY is not set and has no default (use ${PROXY:-default})',
    ]);
  });

  it('admin.token defaults to ${ADMIN_TOKEN:-} when the file does not set it (SPEC §3)', () => {
    expect(parseConfigText(yaml('{ port: 1 }'), 'yaml', { ADMIN_TOKEN: 'from-env' }).admin.token).toBe('from-env');
    expect(parseConfigText(`${yaml('{ port: 1 }')}admin: { port: 9999 }\n`, 'yaml', { ADMIN_TOKEN: 'from-env' }).admin).toMatchObject({ port: 9999, token: 'from-env' });
    expect(parseConfigText(yaml('{ port: 1 }'), 'yaml', {}).admin.token).toBe('');
    // The file's own value wins, an empty one too (that is a deliberate choice in the file).
    expect(parseConfigText(`${yaml('{ port: 1 }')}admin: { token: mine }\n`, 'yaml', { ADMIN_TOKEN: 'from-env' }).admin.token).toBe('mine');
    expect(parseConfigText(`${yaml('{ port: 1 }')}admin: { token: "" }\n`, 'yaml', { ADMIN_TOKEN: 'from-env' }).admin.token).toBe('');
  });

  it('reports every unset variable, each with its own key', () => {
    const text = 'listen: { host: ${H1} }\nupstreams:\n  b: { url: "${U1}" }\nroutes: []\n';
    const issues = issuesOf(() => parseConfigText(text, 'yaml', {}));
    expect(issues.filter((i) => i.includes(': environment variable '))).toEqual([
      expect.stringMatching(/^listen\.host: environment variable H1 /),
      expect.stringMatching(/^upstreams\.b\.url: environment variable U1 /),
    ]);
  });

  it('never parses a value as YAML: a comment sign, a comma or digits stay the text they are', () => {
    const text = `${yaml('{ port: 1 }')}admin: { token: \${ADMIN_TOKEN} }\n`;
    for (const token of ['abc #def', 'x, y: z', '123456', '1e5', 'true', '"quoted"', '{ a: 1 }', '  spaced  ']) {
      expect(parseConfigText(text, 'yaml', { ADMIN_TOKEN: token }).admin.token).toBe(token);
    }
  });

  it('reads a whole-value reference as the number or boolean the key wants, and only then', () => {
    const text = `listen: { port: \${GW_PORT} }\nupstreams:\n  b: { url: "http://127.0.0.1:\${UP_PORT}" }\nroutes:\n  - { path: /b, upstream: b, stripPrefix: \${STRIP} }\n`;
    const c = parseConfigText(text, 'yaml', { GW_PORT: '8181', UP_PORT: '9002', STRIP: 'true' });
    expect(c.listen.port).toBe(8181);
    expect(c.upstreams[0]?.url).toBe('http://127.0.0.1:9002');
    expect(c.routes[0]?.stripPrefix).toBe(true);
    expect(issuesOf(() => parseConfigText(text, 'yaml', { GW_PORT: 'eighty', UP_PORT: '9002', STRIP: 'yes' }))).toEqual([
      expect.stringMatching(/^listen\.port: /),
      expect.stringMatching(/^routes\[0\]\.stripPrefix: /),
    ]);
  });

  it('works in JSON files too, inside and outside strings', () => {
    const text = '{ "listen": { "port": ${GW_PORT} }, "upstreams": { "b": { "url": "http://127.0.0.1:${UP_PORT:-9001}" } }, "routes": [{ "path": "/b", "upstream": "b" }] }';
    const c = parseConfigText(text, 'json', { GW_PORT: '8282' });
    expect(c.listen.port).toBe(8282);
    expect(c.upstreams[0]?.url).toBe('http://127.0.0.1:9001');
  });

  it('does not look up references in trailing comments, nor trip over deep nesting', () => {
    expect(parseConfigText(yaml('{ port: 9 } # was ${NOT_SET_ANYWHERE}'), 'yaml', {}).listen.port).toBe(9);
    const deep = `listen: ${'['.repeat(3000)}"\${GW_X:-1}"${']'.repeat(3000)}\n`;
    expect(issuesOf(() => parseConfigText(deep, 'yaml', {})).length).toBeGreaterThan(0);
  });

  it('leaves references on comment lines alone', () => {
    const c = parseConfigText(`# port: \${NOT_SET_ANYWHERE}\n${yaml('{ port: 9 }')}`, 'yaml', {});
    expect(c.listen.port).toBe(9);
  });
});

describe('validation', () => {
  it('names unknown keys by their path, at any depth', () => {
    const issues = issuesOf(() =>
      parseConfig({
        listen: { prot: 1 },
        defaults: { breaker: { treshold: 3 } },
        upstreams: { business: { url: 'http://x:1', retries: 2, healthCheck: { pth: '/h' } } },
        routes: [{ path: '/a', upstream: 'business', stripprefix: true }],
        extra: true,
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'listen.prot: unknown key',
        'defaults.breaker.treshold: unknown key',
        'upstreams.business.retries: unknown key',
        'upstreams.business.healthCheck.pth: unknown key',
        'routes[0].stripprefix: unknown key',
        'extra: unknown key',
      ]),
    );
  });

  it('reports every bad key at once, each by its path', () => {
    const issues = issuesOf(() =>
      parseConfig({
        listen: { port: 70000, trustedProxies: ['10.0.0.0/33'] },
        admin: { port: 'x' }, // wrong type: must not read as "required"
        shutdown: { drainTimeoutMs: -1 },
        log: { level: 'loud' },
        defaults: { failureStatuses: [700], breaker: { errorThresholdPercentage: 0 } },
        upstreams: {
          business: { url: 'ftp://x', timeoutMs: 1.5, connectTimeoutMs: 0 },
          'bad name!': { url: 'http://x:1' },
        },
        routes: [{ path: 'api', upstream: 'business', methods: ['FETCH'], maxBodyBytes: -1 }],
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'listen.port: expected a port number (0-65535)',
        expect.stringMatching(/^listen\.trustedProxies\[0\]: expected an IP address or CIDR/),
        'admin.port: expected a port number (0-65535)',
        'shutdown.drainTimeoutMs: expected a non-negative integer',
        expect.stringMatching(/^log\.level: /),
        'defaults.failureStatuses[0]: expected a 5xx status (500-599): only server errors can count against a breaker',
        'defaults.breaker.errorThresholdPercentage: expected a percentage (1-100)',
        expect.stringMatching(/^upstreams\.business\.url: expected an http:\/\/ or https:\/\/ URL/),
        'upstreams.business.timeoutMs: expected a positive integer',
        'upstreams.business.connectTimeoutMs: expected a positive integer',
        // (how an odd key is quoted in a path is formatPath's business, in flux elsewhere)
        expect.stringMatching(/^upstreams(\.bad name!|\["bad name!"\]): expected an upstream name \(1-63 letters, digits, "\.", "_" or "-", starting with a letter or digit\)$/),
        expect.stringMatching(/^routes\[0\]\.path: expected a path such as \/api\/loans/),
        expect.stringMatching(/^routes\[0\]\.methods\[0\]: expected one of GET, HEAD, POST/),
        'routes[0].maxBodyBytes: expected a non-negative integer',
      ]),
    );
    expect(issues).toHaveLength(14);
  });

  it('says which required sections are missing', () => {
    expect(issuesOf(() => parseConfig({}))).toEqual(expect.arrayContaining(['upstreams: required', 'routes: required']));
    expect(issuesOf(() => parseConfig({ upstreams: {}, routes: [] }))).toEqual(
      expect.arrayContaining(['upstreams: expected at least one upstream', 'routes: expected at least one route']),
    );
    expect(issuesOf(() => parseConfig({ upstreams: [], routes: {} }))).toEqual(expect.arrayContaining(['upstreams: expected a mapping', 'routes: expected a list']));
  });

  it.each([
    ['with credentials', 'http://user:pw@x:1'],
    ['with a query', 'http://x:1/?a=b'],
    ['with a fragment', 'http://x:1/#f'],
    ['not a URL', 'business-layer'],
  ])('refuses an upstream url %s', (_what, url) => {
    expect(issuesOf(() => parseConfig({ ...minimal(), upstreams: { business: { url } } }))).toEqual([expect.stringMatching(/^upstreams\.business\.url: /)]);
  });

  it.each(['/api/', '/api/../admin', '/api/./x', 'api', '/a//b', '/a b'])('refuses route path %j', (p) => {
    expect(issuesOf(() => parseConfig({ ...minimal(), routes: [{ path: p, upstream: 'business' }] }))).toEqual([expect.stringMatching(/^routes\[0\]\.path: /)]);
  });

  it('accepts a root route and IPv4/IPv6 trusted proxies', () => {
    const c = parseConfig({ ...minimal(), listen: { trustedProxies: ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8'] }, routes: [{ path: '/', upstream: 'business' }] });
    expect(c.routes[0]?.path).toBe('/');
    expect(c.listen.trustedProxies).toHaveLength(4);
  });
});

describe('values that pass a loose check but break at run time', () => {
  it.each(['not:an:ip', '010.0.0.1', ':::', '10.0.0.0/33', '::1/129', '10.0.0.1/8/8', '10.0.0.0/', 'localhost', ''])('refuses trusted proxy %j, naming the entry', (entry) => {
    expect(issuesOf(() => parseConfig({ ...minimal(), listen: { trustedProxies: ['127.0.0.1', entry] } }))).toEqual([
      expect.stringMatching(/^listen\.trustedProxies\[1\]: expected an IP address or CIDR such as 10\.0\.0\.0\/8/),
    ]);
  });

  it('every trusted proxy it accepts can be loaded into the forwarded-header check', () => {
    const entries = ['10.0.0.0/8', '127.0.0.1', '0.0.0.0/0', '::1', '::/0', 'fd00::/8', '::ffff:10.0.0.1', '2001:db8::/128'];
    const c = parseConfig({ ...minimal(), listen: { trustedProxies: entries } });
    expect(() => new TrustedProxies(c.listen.trustedProxies)).not.toThrow();
  });

  const msKeys: [string, Record<string, unknown>][] = [
    ['listen.requestTimeoutMs', { listen: { requestTimeoutMs: 2147483648 } }],
    ['listen.headersTimeoutMs', { listen: { headersTimeoutMs: 2147483648 } }],
    ['listen.keepAliveTimeoutMs', { listen: { keepAliveTimeoutMs: 2147483648 } }],
    ['shutdown.drainTimeoutMs', { shutdown: { drainTimeoutMs: 2147483648 } }],
    ['defaults.connectTimeoutMs', { defaults: { connectTimeoutMs: 2147483648 } }],
    ['defaults.timeoutMs', { defaults: { timeoutMs: 2147483648 } }],
    ['defaults.breaker.resetTimeoutMs', { defaults: { breaker: { resetTimeoutMs: 2147483648 } } }],
    ['defaults.breaker.rollingWindowMs', { defaults: { breaker: { rollingWindowMs: 2147483648 } } }],
    ['upstreams.business.connectTimeoutMs', { upstreams: { business: { url: 'http://x:1', connectTimeoutMs: 2147483648 } } }],
    ['upstreams.business.timeoutMs', { upstreams: { business: { url: 'http://x:1', timeoutMs: 2147483648 } } }],
    ['upstreams.business.breaker.resetTimeoutMs', { upstreams: { business: { url: 'http://x:1', breaker: { resetTimeoutMs: 2147483648 } } } }],
    ['upstreams.business.breaker.rollingWindowMs', { upstreams: { business: { url: 'http://x:1', breaker: { rollingWindowMs: 2147483648 } } } }],
    ['upstreams.business.healthCheck.intervalMs', { upstreams: { business: { url: 'http://x:1', healthCheck: { intervalMs: 2147483648 } } } }],
    ['upstreams.business.healthCheck.timeoutMs', { upstreams: { business: { url: 'http://x:1', healthCheck: { timeoutMs: 2147483648 } } } }],
    ['routes[0].preflightCacheMs', { routes: [{ path: '/api/loans', upstream: 'business', preflightCacheMs: 2147483648 }] }],
  ];

  it.each(msKeys)('refuses %s beyond what a Node timer holds (it would fire after 1 ms)', (key, patch) => {
    expect(issuesOf(() => parseConfig({ ...minimal(), ...patch }))).toEqual([`${key}: expected at most 2147483647 ms (about 24.8 days)`]);
  });

  it.each(msKeys)('accepts %s at exactly 2147483647', (_key, patch) => {
    const at = JSON.parse(JSON.stringify(patch).replace('2147483648', '2147483647')) as Record<string, unknown>;
    expect(() => parseConfig({ ...minimal(), ...at })).not.toThrow();
  });

  it.each([[429], [404], [100], [302], [499], [600]])('refuses failure status %j: a 4xx never counts against a breaker (SPEC §5)', (status) => {
    const message = 'expected a 5xx status (500-599): only server errors can count against a breaker';
    expect(issuesOf(() => parseConfig({ ...minimal(), defaults: { failureStatuses: [503, status] } }))).toEqual([`defaults.failureStatuses[1]: ${message}`]);
    expect(issuesOf(() => parseConfig({ ...minimal(), upstreams: { business: { url: 'http://x:1', failureStatuses: [status] } } }))).toEqual([
      `upstreams.business.failureStatuses[0]: ${message}`,
    ]);
  });

  it('accepts every 5xx as a failure status', () => {
    expect(parseConfig({ ...minimal(), defaults: { failureStatuses: [500, 599] } }).upstreams[0]?.failureStatuses).toEqual([500, 599]);
  });
});

describe('errors hidden behind other errors', () => {
  it('reports a bad upstream name and every error inside that upstream', () => {
    const issues = issuesOf(() =>
      parseConfig({ upstreams: { 'bad name': { url: 'ftp://x', timeoutMs: -1, retires: 2 }, business: { url: 'http://x:1' } }, routes: [{ path: '/a', upstream: 'business' }] }),
    );
    const at = (...keys: string[]): string => formatPath(['upstreams', 'bad name', ...keys]);
    expect(issues).toEqual(
      expect.arrayContaining([
        `${at()}: expected an upstream name (1-63 letters, digits, ".", "_" or "-", starting with a letter or digit)`,
        `${at('url')}: expected an http:// or https:// URL without credentials, query or fragment`,
        `${at('timeoutMs')}: expected a positive integer`,
        `${at('retires')}: unknown key`,
      ]),
    );
    expect(issues).toHaveLength(4);
  });

  it.each(['_x', '-x', '.x', 'a'.repeat(64), 'a b', 'ä'])('refuses upstream name %j, saying what is allowed', (name) => {
    expect(issuesOf(() => parseConfig({ upstreams: { [name]: { url: 'http://x:1' } }, routes: [{ path: '/a', upstream: name }] }))).toEqual(
      expect.arrayContaining([`${formatPath(['upstreams', name])}: expected an upstream name (1-63 letters, digits, ".", "_" or "-", starting with a letter or digit)`]),
    );
  });

  it.each(['x', 'X9', 'a.b_c-d', 'a'.repeat(63)])('accepts upstream name %j', (name) => {
    expect(parseConfig({ upstreams: { [name]: { url: 'http://x:1' } }, routes: [{ path: '/a', upstream: name }] }).upstreams[0]?.name).toBe(name);
  });

  it('with `upstreams: {}`, still names the routes\' unknown upstreams and requirements', () => {
    expect(issuesOf(() => parseConfig({ upstreams: {}, routes: [{ path: '/a', upstream: 'x', requires: ['y'] }] }))).toEqual([
      'upstreams: expected at least one upstream',
      'routes[0].upstream: unknown upstream "x"',
      'routes[0].requires[0]: unknown upstream "y"',
    ]);
  });
});

describe('wording', () => {
  it.each([
    ['methods: []', { methods: [] }, 'routes[0].methods: expected at least one method (leave the key out to allow all)'],
    ['stripPrefix: "yes"', { stripPrefix: 'yes' }, 'routes[0].stripPrefix: expected true or false'],
    ['preflight: "live"', { preflight: 'live' }, 'routes[0].preflight: expected one of state, probe'],
    ['path: 5', { path: 5 }, 'routes[0].path: expected a string'],
  ])('%s reads like every other message', (_what, patch, message) => {
    expect(issuesOf(() => parseConfig({ ...minimal(), routes: [{ path: '/api/loans', upstream: 'business', ...patch }] }))).toEqual([message]);
  });

  it('says one thing about a key of the wrong type', () => {
    expect(issuesOf(() => parseConfig({ ...minimal(), upstreams: { business: { url: 'http://x:1', healthCheck: { instanceIdField: [] } } } }))).toEqual([
      'upstreams.business.healthCheck.instanceIdField: expected a string',
    ]);
    expect(issuesOf(() => parseConfig({ ...minimal(), admin: { token: 5 }, log: { level: 'loud' } }))).toEqual([
      'admin.token: expected a string',
      'log.level: expected one of fatal, error, warn, info, debug, trace, silent',
    ]);
  });

  it('a key\'s own message wins over the general wording', () => {
    expect(issuesOf(() => parseConfig({ ...minimal(), listen: { host: 5 } }))).toEqual(['listen.host: expected a host name or address']);
  });
});

describe('cross-checks', () => {
  it('refuses routes naming unknown upstreams (as upstream or requirement) and duplicate paths', () => {
    const issues = issuesOf(() =>
      parseConfig({
        upstreams: { business: { url: 'http://x:1' } },
        routes: [
          { path: '/a', upstream: 'nowhere' },
          { path: '/b', upstream: 'business', requires: ['business', 'bureau'] },
          { path: '/a', upstream: 'business' },
        ],
      }),
    );
    expect(issues).toEqual([
      'routes[0].upstream: unknown upstream "nowhere"',
      'routes[1].requires[1]: unknown upstream "bureau"',
      'routes[2].path: duplicate of routes[0].path "/a"',
    ]);
  });

  it('refuses the admin listener on the traffic port (explicit or default), but allows both on port 0', () => {
    expect(issuesOf(() => parseConfig({ ...minimal(), listen: { port: 9000 }, admin: { port: 9000 } }))).toEqual(['admin.port: must differ from listen.port (9000)']);
    expect(issuesOf(() => parseConfig({ ...minimal(), admin: { port: 8080 } }))).toEqual(['admin.port: must differ from listen.port (8080)']);
    expect(() => parseConfig({ ...minimal(), listen: { port: 0 }, admin: { port: 0 } })).not.toThrow();
  });

  it('refuses tls options on an http:// upstream, where they would be silently ignored', () => {
    expect(issuesOf(() => parseConfig({ upstreams: { business: { url: 'http://x:1', tls: { rejectUnauthorized: false } } }, routes: [{ path: '/a', upstream: 'business' }] })))
      .toEqual(['upstreams.business.tls: applies only to an https:// url']);
    expect(() => parseConfig({ upstreams: { business: { url: 'https://x:1', tls: { rejectUnauthorized: false } } }, routes: [{ path: '/a', upstream: 'business' }] })).not.toThrow();
  });

  it('reports schema problems and cross-check problems together', () => {
    const issues = issuesOf(() => parseConfig({ upstreams: { business: { url: 'http://x:1', timeoutMs: 0 } }, routes: [{ path: '/a', upstream: 'ghost' }] }));
    expect(issues).toEqual(expect.arrayContaining(['upstreams.business.timeoutMs: expected a positive integer', 'routes[0].upstream: unknown upstream "ghost"']));
  });
});

describe('formats and result', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const yamlText = [
    'listen: { port: ${GW_PORT:-8088} }',
    'defaults:',
    '  breaker: { volumeThreshold: 3 }',
    'upstreams:',
    '  business: { url: http://127.0.0.1:9001 }',
    'routes:',
    '  - path: /api/loans',
    '    upstream: business',
    '    methods: [GET, POST]',
  ].join('\n');
  const jsonText = JSON.stringify({
    listen: { port: '${GW_PORT:-8088}' },
    defaults: { breaker: { volumeThreshold: 3 } },
    upstreams: { business: { url: 'http://127.0.0.1:9001' } },
    routes: [{ path: '/api/loans', upstream: 'business', methods: ['GET', 'POST'] }],
  }).replace('"${GW_PORT:-8088}"', '${GW_PORT:-8088}');

  it('reads YAML and JSON files to the same configuration (by extension)', () => {
    const y = path.join(dir, 'c.yaml');
    const j = path.join(dir, 'c.json');
    writeFileSync(y, yamlText);
    writeFileSync(j, jsonText);
    const fromYaml = loadConfigFile(y, {});
    expect(loadConfigFile(j, {})).toEqual(fromYaml);
    expect(fromYaml.listen.port).toBe(8088);
    expect(fromYaml.upstreams[0]?.breaker.volumeThreshold).toBe(3);
  });

  it('names a file that cannot be read', () => {
    expect(issuesOf(() => loadConfigFile(path.join(dir, 'nope.yaml'), {}))).toEqual([`${path.join(dir, 'nope.yaml')}: cannot read file (ENOENT)`]);
  });

  it('says in one line which file cannot be read, and why', () => {
    const nope = path.join(dir, 'nope.yaml');
    expect(() => loadConfigFile(nope, {})).toThrow(expect.objectContaining({ message: `${nope}: cannot read file (ENOENT): no such file` }) as Error);
    expect(() => loadConfigFile(dir, {})).toThrow(expect.objectContaining({ message: `${dir}: cannot read file (EISDIR): is a directory` }) as Error);
  });

  it('reads YAML and JSON files that start with a UTF-8 byte order mark', () => {
    const y = path.join(dir, 'bom.yaml');
    const j = path.join(dir, 'bom.json');
    writeFileSync(y, `\uFEFF${yamlText}`);
    writeFileSync(j, `\uFEFF${jsonText}`);
    const fromYaml = loadConfigFile(y, {});
    expect(fromYaml.listen.port).toBe(8088);
    expect(loadConfigFile(j, {})).toEqual(fromYaml);
    expect(parseConfigText(`\uFEFF${jsonText}`, 'json', {})).toEqual(fromYaml);
  });

  it('still names the line of an unset variable in a key after a byte order mark', () => {
    expect(issuesOf(() => parseConfigText(`\uFEFF\${GW_UNSET_KEY}: 1\n${yamlText}`, 'yaml', {}))).toEqual(
      expect.arrayContaining(['line 1: environment variable GW_UNSET_KEY is not set and has no default (use ${GW_UNSET_KEY:-default})']),
    );
  });

  it('reports syntax errors (including duplicate YAML keys) with a position, without a stack', () => {
    const [dup] = issuesOf(() => parseConfigText('listen: { port: 1 }\nlisten: { port: 2 }\n', 'yaml', {}));
    expect(dup).toMatch(/^syntax: .*(unique|duplicate)/i);
    const [json] = issuesOf(() => parseConfigText('{"listen": ', 'json', {}));
    expect(json).toMatch(/^syntax: /);
    expect(dup).not.toContain('\n');
  });

  it('the message of a ConfigError lists each issue on its own line', () => {
    const err = new ConfigError(['a.b: bad', 'c: worse']);
    expect(err.message).toBe('invalid configuration:\n  a.b: bad\n  c: worse');
  });

  it('is deeply frozen', () => {
    const c = parseConfigText(yamlText, 'yaml', {});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.listen)).toBe(true);
    expect(Object.isFrozen(c.upstreams)).toBe(true);
    expect(Object.isFrozen(c.upstreams[0]?.breaker)).toBe(true);
    expect(Object.isFrozen(c.routes[0]?.methods)).toBe(true);
    expect(() => {
      (c.listen as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => (c.routes as unknown as unknown[]).push({})).toThrow(TypeError);
  });

  it('formats paths as upstreams.business.timeoutMs and routes[0].path', () => {
    expect(formatPath(['upstreams', 'business', 'timeoutMs'])).toBe('upstreams.business.timeoutMs');
    expect(formatPath(['routes', 0, 'path'])).toBe('routes[0].path');
    expect(formatPath([])).toBe('(root)');
  });
});

describe('security settings (issue 16)', () => {
  it('untrustedHeaders are header names, folded to lower case', () => {
    expect(parseConfig({ ...minimal(), listen: { untrustedHeaders: ['X-Tenant'] } }).listen.untrustedHeaders).toEqual(['x-tenant']);
    expect(() => parseConfig({ ...minimal(), listen: { untrustedHeaders: ['bad header'] } })).toThrow(/listen\.untrustedHeaders\[0\]: expected a header name/);
  });

  it('maxConnections and sendTimeoutMs are positive integers; allowedHosts are host names', () => {
    expect(() => parseConfig({ ...minimal(), listen: { maxConnections: 0, sendTimeoutMs: -1 }, admin: { allowedHosts: [''] } })).toThrow(
      /listen\.maxConnections: expected a positive integer[\s\S]*listen\.sendTimeoutMs: expected a positive integer[\s\S]*admin\.allowedHosts\[0\]/,
    );
  });

  it('two routes that an upstream reads alike are refused by name', () => {
    const raw = { upstreams: { a: { url: 'http://a:1' } }, routes: [{ path: '/api/loans', upstream: 'a' }, { path: '/api/Loans', upstream: 'a' }, { path: '/x;v=1', upstream: 'a' }, { path: '/x', upstream: 'a' }] };
    expect(() => parseConfig(raw)).toThrow(/routes\[1\]\.path: reads as routes\[0\]\.path "\/api\/loans"[\s\S]*routes\[3\]\.path: reads as routes\[2\]\.path/);
  });

  it('${VAR} references are found in linear time, even in 64 KB of unclosed ones', () => {
    const t0 = performance.now();
    expect(() => parseConfigText('${a:-'.repeat(13000), 'yaml', {})).toThrow();
    // The old pattern took about 2 s on 10,000 of them.
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
