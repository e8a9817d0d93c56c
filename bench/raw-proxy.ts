import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { argOf, runChild } from './child';

/**
 * Baseline (b): the least a Node proxy can do — node:http server, http.request through a
 * keep-alive agent, both bodies piped. No header hygiene, no timeouts, no breaker, no logs.
 */
export async function startRawProxy(upstreamUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(upstreamUrl);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const proxyReq = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent },
      (proxyRes) => {
        res.writeHead(proxyRes.statusCode ?? 502, proxyRes.headers);
        proxyRes.pipe(res);
      },
    );
    proxyReq.on('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    });
    req.pipe(proxyReq);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      agent.destroy();
    }),
  };
}

if (require.main === module) {
  runChild('raw-proxy', () => startRawProxy(argOf('upstream') ?? 'http://127.0.0.1:9001'));
}
