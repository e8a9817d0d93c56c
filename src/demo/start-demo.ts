import { existsSync } from 'node:fs';
import path from 'node:path';
import { startDemoUpstream, type DemoKind, type DemoUpstream } from './demo-upstream';

/** The demo's simulated systems: the business layer runs as two instances (docs/failover.md). */
export const DEMO_INSTANCES: readonly { readonly name: string; readonly kind: DemoKind }[] = Object.freeze([
  { name: 'business', kind: 'business' },
  { name: 'credit-bureau', kind: 'credit-bureau' },
  { name: 'archive', kind: 'archive' },
  { name: 'business-2', kind: 'business' },
]);

/** The ports the bundled demo configuration (demo-config.yaml) expects its upstreams on, by instance name. */
export const DEMO_PORTS: Readonly<Record<string, number>> = Object.freeze({ business: 9001, 'credit-bureau': 9002, archive: 9003, 'business-2': 9005 });

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
  /** In the order business, credit-bureau, archive, business-2 (the business layer's second instance). */
  upstreams: DemoUpstream[];
  close(): Promise<void>;
}

/**
 * Starts the simulated upstreams of the bundled demo. Ports default to DEMO_PORTS; 0 picks a
 * free port (each upstream's `port` and `url` report the real one), and so does an instance
 * left out of a `ports` given. If one cannot start, those already started are closed again
 * and the error is rethrown.
 */
export async function startDemoUpstreams(host = '127.0.0.1', ports: Readonly<Record<string, number>> = DEMO_PORTS): Promise<DemoUpstreams> {
  const results = await Promise.allSettled(DEMO_INSTANCES.map(({ name, kind }) => startDemoUpstream({ name, kind, host, port: ports[name] ?? 0 })));
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
