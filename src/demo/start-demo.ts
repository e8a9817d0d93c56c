import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startDemoUpstream, type DemoKind, type DemoUpstream } from './demo-upstream';
import { startIdentityProvider } from './identity-provider';

/** The demo's servers by name; `business-2` is the business layer's second instance. */
export type DemoServer = DemoKind | 'identity' | 'business-2';

/** The ports the bundled demo configuration (demo-config.yaml) expects its servers on; `business-2` is the business layer's second instance (docs/failover.md). */
export const DEMO_PORTS: Readonly<Record<DemoServer, number>> = Object.freeze({ business: 9001, 'credit-bureau': 9002, archive: 9003, identity: 9004, 'business-2': 9005 });

/**
 * The bundled demo configuration. tsc does not copy .yaml files into dist/, so when this
 * module runs compiled (dist/src/demo/) the file is found in the source tree instead.
 */
export const DEMO_CONFIG_PATH: string = resolveDemoConfigPath();

function resolveDemoConfigPath(): string {
  const beside = path.join(__dirname, 'demo-config.yaml');
  if (existsSync(beside)) return beside;
  return path.resolve(__dirname, '../../../src/demo/demo-config.yaml');
}

export interface DemoUpstreams {
  /** In the order business, credit-bureau, archive, identity (the demo identity provider), business-2 (the business layer's second instance). */
  upstreams: DemoUpstream[];
  close(): Promise<void>;
}

/**
 * Starts the simulated upstreams of the bundled demo (the business layer as two instances)
 * and its identity provider, which shares a key made for this run with the business layer
 * (it verifies the access tokens). Ports default to DEMO_PORTS; 0 picks a free port (each
 * upstream's `port` and `url` report the real one), and the second business instance takes
 * a free port too when the first one does. If one cannot start, those already started are
 * closed again and the error is rethrown.
 */
export async function startDemoUpstreams(host = '127.0.0.1', ports: Partial<Record<DemoServer, number>> = DEMO_PORTS): Promise<DemoUpstreams> {
  const kinds: DemoKind[] = ['business', 'credit-bureau', 'archive'];
  const signingKey = randomBytes(32);
  const secondPort = ports['business-2'] ?? (ports.business === 0 ? 0 : DEMO_PORTS['business-2']);
  const results = await Promise.allSettled([
    ...kinds.map((kind) => startDemoUpstream({ name: kind, kind, host, port: ports[kind] ?? DEMO_PORTS[kind], ...(kind === 'business' ? { signingKey } : {}) })),
    // Loopback only, whatever `host` the upstreams get.
    startIdentityProvider({ host: '127.0.0.1', port: ports.identity ?? DEMO_PORTS.identity, signingKey }),
    startDemoUpstream({ name: 'business-2', kind: 'business', host, port: secondPort, signingKey }),
  ]);
  const upstreams = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(upstreams.map((u) => u.close()));
    throw failed.reason;
  }
  let closing: Promise<void> | undefined;
  return {
    upstreams,
    close() {
      closing ??= Promise.all(upstreams.map((u) => u.close())).then(() => undefined);
      return closing;
    },
  };
}
