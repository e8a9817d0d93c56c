import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import { argOf, runChild } from './child';
import { PROXIED_PREFIX } from './targets';

/**
 * Peer (c): what a user would pick instead of Breakwater — fastify 5 with @fastify/http-proxy
 * (undici underneath), as its README shows it, with fastify's defaults (request logging off).
 */
export async function startFastifyProxy(upstreamUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false });
  await app.register(proxy, { upstream: upstreamUrl, prefix: PROXIED_PREFIX, rewritePrefix: PROXIED_PREFIX });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, close: () => app.close() };
}

if (require.main === module) {
  runChild('fastify-proxy', () => startFastifyProxy(argOf('upstream') ?? 'http://127.0.0.1:9001'));
}
