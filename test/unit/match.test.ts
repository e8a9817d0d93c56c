/** Route matching (SPEC §3): whole segments, longest prefix, stripPrefix with queries, trailing slash, root route. */
import { parseConfig } from '../../src/config/load';
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
