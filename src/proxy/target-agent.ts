import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type * as httpProxy from 'http-proxy';
import { createProxyMiddleware } from 'http-proxy-middleware';
import type { UpstreamConfig } from '../config/types';
import { closeIdleSockets } from './idle-sockets';

/** A free keep-alive socket to a target is closed after this long idle (checked every IDLE_SWEEP_MS). */
const IDLE_SOCKET_MS = 3500;
const IDLE_SWEEP_MS = 500;

/** One target's keep-alive agent, and the sweep that closes its idle sockets. */
export function createTargetAgent(upstream: UpstreamConfig, isHttps: boolean, hostname: string): { agent: http.Agent; stopSweep: () => void } {
  const agentOptions = {
    keepAlive: true,
    // What Node would work out from the Host header (changeOrigin makes it the target's) on
    // every request; given here, the agent's per-request copy of the options need not grow.
    // It is the TLS SNI name, so an IP address gives none, as Node does.
    servername: upstream.tls?.servername ?? (isIP(hostname) ? '' : hostname),
    maxFreeSockets: 256,
    scheduling: 'lifo' as const,
  };
  const agent = isHttps
    ? new https.Agent({
        ...agentOptions,
        rejectUnauthorized: upstream.tls?.rejectUnauthorized ?? true,
        ...(upstream.tls?.ca ? { ca: upstream.tls.ca } : {}),
      })
    : new http.Agent(agentOptions);
  // Closed between 3.5 and 4 s idle: below the 5 s keep-alive timeout most servers use, so the
  // target rarely closes a socket we are about to reuse.
  return { agent, stopSweep: closeIdleSockets(agent, IDLE_SOCKET_MS, IDLE_SWEEP_MS) };
}

/** The http-proxy server http-proxy-middleware builds for `url`, handed over through its documented plugin hook. */
export function proxyServerFor(url: string): httpProxy {
  let server: httpProxy | undefined;
  createProxyMiddleware({
    target: url,
    ejectPlugins: true,
    plugins: [
      (proxyServer) => {
        server = proxyServer;
      },
    ],
  });
  if (!server) throw new Error('http-proxy-middleware did not hand over its proxy server');
  return server;
}
