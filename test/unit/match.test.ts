/** Route matching (SPEC §3): whole segments, longest prefix, stripPrefix with queries, trailing slash, root route. */
import { parseConfig } from '../../src/config/load';
import { upstreamReading } from '../../src/core/path-reading';
import { RouteTable } from '../../src/routing/match';

function table(routes: Record<string, unknown>[]): RouteTable {
  const config = parseConfig({ upstreams: { a: { url: 'http://a:1' }, b: { url: 'http://b:1' }, r: { url: 'http://r:1' } }, routes });
  return new RouteTable(config.routes);
}

describe('RouteTable', () => {
  const t = table([
    { path: '/api', upstream: 'a' },
    { path: '/api/loans', upstream: 'b', stripPrefix: true, methods: ['GET', 'POST'] },
    { path: '/api/loans/archive', upstream: 'a' },
  ]);

  it.each([
    ['/api', '/api', '/api'],
    ['/api/', '/api', '/api/'],
    ['/api/x', '/api', '/api/x'],
    ['/api/loansx', '/api', '/api/loansx'],
    ['/api/loans', '/api/loans', '/'],
    ['/api/loans/', '/api/loans', '/'],
    ['/api/loans/7', '/api/loans', '/7'],
    ['/api/loans/7/', '/api/loans', '/7/'],
    ['/api/loans?x=1', '/api/loans', '/?x=1'],
    ['/api/loans/?x=1', '/api/loans', '/?x=1'],
    ['/api/loans/7?x=1&y=/a', '/api/loans', '/7?x=1&y=/a'],
    ['/api/loans/archive/2024', '/api/loans/archive', '/api/loans/archive/2024'],
    ['/api/x?q=/api/loans', '/api', '/api/x?q=/api/loans'],
  ])('%s → route %s, upstream path %s', (target, route, upstreamPath) => {
    expect(t.match(target)).toMatchObject({ route: { path: route }, upstreamPath });
  });

  it.each(['/', '/apix', '/ap', '/other/api', '/API'])('%s matches nothing without a root route', (target) => {
    expect(t.match(target)).toBeNull();
  });

  it('a root route catches everything else, and never strips', () => {
    const withRoot = table([{ path: '/', upstream: 'r', stripPrefix: true }, { path: '/api', upstream: 'a' }]);
    expect(withRoot.match('/')).toMatchObject({ route: { path: '/' }, upstreamPath: '/' });
    expect(withRoot.match('/x/y?z=1')).toMatchObject({ route: { path: '/' }, upstreamPath: '/x/y?z=1' });
    expect(withRoot.match('/api/1')).toMatchObject({ route: { path: '/api' } });
    expect(withRoot.match('/apix')).toMatchObject({ route: { path: '/' } });
  });

  it('methods: absent means all; GET implies HEAD; Allow lists them', () => {
    const loans = t.match('/api/loans')?.route;
    expect(loans?.methods && [...loans.methods].sort()).toEqual(['GET', 'HEAD', 'POST']);
    expect(loans?.allow.split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
    expect(t.match('/api/x')?.route.methods).toBeNull();
  });
});

describe('RouteTable: the path an upstream would read (SECURITY.md, "Paths an upstream reads differently")', () => {
  const t = table([
    { path: '/api', upstream: 'a' },
    { path: '/api/loans', upstream: 'b', methods: ['GET'] },
  ]);

  it.each([
    // path, route the reading matches (undefined: reads as itself)
    ['/api/loans/1001', undefined],
    ['/api/x', undefined],
    ['/api/%6coans/1001', '/api/loans'],
    ['/api/%6Coans/1001', '/api/loans'],
    ['/api/loans;x/1001', '/api/loans'],
    ['/api;jsessionid=1/loans/7', '/api/loans'],
    ['/api/Loans/1001', '/api/loans'],
    ['/API/LOANS', '/api/loans'],
    ['/api/%7Eme', '/api'],
    ['/api/a%20b', '/api'],
    ['/other/X', null],
  ])('%s → %p', (path, want) => {
    const route = t.matchReading(path);
    expect(route === undefined || route === null ? route : route.path).toBe(want);
  });

  it('a path deeper than any route is matched by its route, not walked segment by segment', () => {
    const deep = `/api/loans${'/a'.repeat(32768)}`;
    const t0 = performance.now();
    expect(t.match(deep)?.route.path).toBe('/api/loans');
    expect(t.matchReading(deep.toUpperCase())?.path).toBe('/api/loans');
    // Walking 32,768 prefixes through a map took about a second; two lookups take microseconds.
    expect(performance.now() - t0).toBeLessThan(100);
  });
});

describe('upstreamReading', () => {
  it.each([
    ['/api/loans', null],
    ['/api/%6coans', '/api/loans'],
    ['/api/%2Fx', '/api/%2fx'],
    ['/a;b/c;d=e', '/a/c'],
    ['/A/B', '/a/b'],
    ['/%41%42', '/ab'],
    ['/%', '/%'],
    ['/%4', '/%4'],
    ['/%zz', '/%zz'],
  ])('%s → %p', (path, want) => {
    expect(upstreamReading(path)).toBe(want);
  });

  it('is linear on 64 KB of separators', () => {
    for (const path of ['/' + ';'.repeat(65536), '/' + '%'.repeat(65536), '/' + '%4'.repeat(32768), '/' + 'A/'.repeat(32768)]) {
      const t0 = performance.now();
      upstreamReading(path);
      expect(performance.now() - t0).toBeLessThan(250);
    }
  });
});
