import pino from 'pino';
import { parseConfig } from '../src/config/load';
import { Gateway } from '../src/gateway';
import { TurnBatchedDestination } from '../src/server/log-destination';
import { createLogger } from '../src/server/logging';
import { argOf, runChild, type Started } from './child';
import { OPEN_PREFIX, PROXIED_PREFIX, TWO_TARGETS_PREFIX } from './targets';

/**
 * Targets (d) and (e): the gateway with production defaults — request logs at `info` really
 * serialized and written (to /dev/null, batched per event-loop turn as on stdout), a breaker around every call, its own Prometheus metrics
 * (request counter, duration histogram, process metrics) and admin listener — on two routes
 * to the same upstream; the second route's breaker is forced open, so (e) measures the
 * fail-fast path. A third route (f) goes to an upstream of two targets, both the same server
 * (two transports, two breakers, least-request balancing): the cost of choosing a target.
 */
export async function startGatewayTarget(upstreamUrl: string): Promise<Started> {
  const config = parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: {
      bench: { url: upstreamUrl },
      'bench-open': { url: upstreamUrl },
      'bench-two': { targets: [{ url: upstreamUrl }, { url: upstreamUrl }] },
    },
    routes: [
      { path: PROXIED_PREFIX, upstream: 'bench' },
      { path: OPEN_PREFIX, upstream: 'bench-open' },
      { path: TWO_TARGETS_PREFIX, upstream: 'bench-two' },
    ],
  });
  // As in production (src/main.ts), with /dev/null for stdout.
  const logger = createLogger('info', new TurnBatchedDestination(pino.destination({ dest: '/dev/null', sync: true })));
  const gateway = new Gateway(config, { logger });
  gateway.registry.get('bench-open').breaker.forceOpen();
  // Port 0 puts the admin listener on a free port too.
  await gateway.start({ host: '127.0.0.1', port: 0 });
  return {
    url: gateway.url,
    close: () => gateway.close(),
    counters: () => ({ inFlight: gateway.state.inFlight, requestLogsOn: logger.isLevelEnabled('info') ? 1 : 0 }),
  };
}

if (require.main === module) {
  runChild('gateway', () => startGatewayTarget(argOf('upstream') ?? 'http://127.0.0.1:9001'));
}
