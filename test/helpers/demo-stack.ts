/**
 * The bundled demo as tests need it: the demo business layer (with the loan-case API and the
 * app), a demo third party, the demo identity provider and a gateway running demo-config.yaml's
 * routes, all on loopback port 0. The business layer can be stopped and started again on the
 * same port (a process restart: every session lost) or restarted in place (/_demo/restart).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEMO_CONFIG_PATH, startDemoUpstream, startIdentityProvider, type DemoUpstream, type IdentityProvider } from '../../src/demo';
import { startGateway, type StartedGateway } from './gateway';

export interface DemoStack {
  gw: StartedGateway;
  /** The business layer now running (a new object after `startBusiness()`). */
  business(): DemoUpstream;
  identity: IdentityProvider;
  /** The demo credit bureau (switch its mode to make the gateway degraded). */
  bureau: DemoUpstream;
  /** Closes the business layer (its sessions and cases go with it). */
  stopBusiness(): Promise<void>;
  /** Starts a new business layer on the same port. */
  startBusiness(): Promise<void>;
  close(): Promise<void>;
}

export interface DemoStackOptions {
  /** The gateway's health probes of each upstream (default 200 ms, one failure marks it down). */
  healthIntervalMs?: number;
  accessTtlMs?: number;
  refreshTtlMs?: number;
  appDir?: string;
}

export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const signingKey = randomBytes(32);
  const startBusinessOn = (port: number) => startDemoUpstream({ name: 'business', kind: 'business', host: '127.0.0.1', port, signingKey, appDir: options.appDir });
  let business = await startBusinessOn(0);
  const port = business.port;
  const [bureau, archive, identity] = await Promise.all([
    startDemoUpstream({ name: 'credit-bureau', kind: 'credit-bureau', host: '127.0.0.1', port: 0 }),
    startDemoUpstream({ name: 'archive', kind: 'archive', host: '127.0.0.1', port: 0 }),
    startIdentityProvider({ host: '127.0.0.1', port: 0, signingKey, accessTtlMs: options.accessTtlMs, refreshTtlMs: options.refreshTtlMs }),
  ]);
  const raw = parseYaml(readFileSync(DEMO_CONFIG_PATH, 'utf8')) as Record<string, unknown> & { upstreams: Record<string, Record<string, unknown>> };
  delete raw.listen;
  delete raw.admin;
  const urls: Record<string, string> = { business: business.url, 'credit-bureau': bureau.url, archive: archive.url, identity: identity.url };
  const intervalMs = options.healthIntervalMs ?? 200;
  for (const [name, upstream] of Object.entries(raw.upstreams)) {
    // One business instance here (the one these tests stop and restart): the demo's second
    // instance and its sticky sessions are tested in test/integration/sticky.test.ts.
    delete upstream.targets;
    delete upstream.sticky;
    upstream.url = urls[name];
    upstream.healthCheck = { path: '/health', intervalMs, timeoutMs: Math.min(500, intervalMs), unhealthyThreshold: 1, healthyThreshold: 1 };
  }
  const gw = await startGateway(raw);
  let stopped = false;
  return {
    gw,
    business: () => business,
    identity,
    bureau,
    async stopBusiness() {
      stopped = true;
      await business.close();
    },
    async startBusiness() {
      business = await startBusinessOn(port);
      stopped = false;
    },
    async close() {
      await gw.close();
      await Promise.all([stopped ? Promise.resolve() : business.close(), bureau.close(), archive.close(), identity.close()]);
    },
  };
}
