/**
 * SPEC §3 routing end to end: whole-segment prefixes, the longest prefix wins, stripPrefix,
 * query strings passed on untouched, a root route as the catch-all.
 */
import { request, startGateway, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

describe('routing end to end', () => {
  let loans: ControlledUpstream;
  let api: ControlledUpstream;
  let root: ControlledUpstream;
  let g: StartedGateway;

  beforeAll(async () => {
    [loans, api, root] = await Promise.all([startUpstream(), startUpstream(), startUpstream()]);
    g = await startGateway({
      upstreams: { loans: { url: loans.url }, api: { url: `${api.url}/` }, root: { url: root.url } },
      routes: [
        { path: '/api', upstream: 'api' },
        { path: '/api/loans', upstream: 'loans', stripPrefix: true },
        { path: '/', upstream: 'root' },
      ],
    });
  });
  afterAll(async () => {
    await g.close();
    await Promise.all([loans, api, root].map((u) => u.close()));
  });
  beforeEach(() => [loans, api, root].forEach((u) => u.reset()));

  /** Sends `path` and returns `upstream:url` as that upstream received it. */
  async function landing(path: string): Promise<string> {
    const r = await request(g.url, path);
    expect(r.status).toBe(200);
    const hits = [['loans', loans], ['api', api], ['root', root]] as const;
    const seen = hits.flatMap(([name, u]) => u.received.map((q) => `${name}:${q.url}`));
    expect(seen).toHaveLength(1);
    [loans, api, root].forEach((u) => u.reset());
    return seen[0] as string;
  }

  it.each([
    ['/api/loans/7', 'loans:/7'],
    ['/api/loans/7/documents?type=pdf&page=2', 'loans:/7/documents?type=pdf&page=2'],
    ['/api/loans', 'loans:/'],
    ['/api/loans/', 'loans:/'],
    ['/api/loans?status=open', 'loans:/?status=open'],
    ['/api/loans/7?q=a%20b&redirect=%2Fhome', 'loans:/7?q=a%20b&redirect=%2Fhome'],
    ['/api/loansx', 'api:/api/loansx'],
    ['/api/customers/3?x=1', 'api:/api/customers/3?x=1'],
    ['/api', 'api:/api'],
    ['/apix', 'root:/apix'],
    ['/', 'root:/'],
    ['/other/deep/path?k=v', 'root:/other/deep/path?k=v'],
  ])('%s → %s', async (path, expected) => {
    expect(await landing(path)).toBe(expected);
  });

  it('the upstream sees the path it received echoed back to the caller unchanged', async () => {
    const r = await request(g.url, '/api/loans/9?x=1');
    expect(r.json).toEqual({ ok: true, path: '/9?x=1' });
  });
});
