import type { z } from 'zod';
import type { adminTlsSchema, breakerSchema, healthCheckSchema, listenTlsSchema, retrySchema, routeSchema, configSchema, stickySchema } from './schema';

type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

export type BreakerSettings = DeepReadonly<z.output<typeof breakerSchema>>;
export type HealthCheckSettings = DeepReadonly<z.output<typeof healthCheckSchema>>;
export type RouteConfig = DeepReadonly<z.output<typeof routeSchema>>;
export type RetrySettings = DeepReadonly<z.output<typeof retrySchema>>;
export type StickySettings = DeepReadonly<z.output<typeof stickySchema>>;

/** One instance of an upstream. */
export interface TargetConfig {
  readonly name: string;
  readonly url: string;
}
/** `admin.tls`: what every TLS listener has. */
export type TlsSettings = DeepReadonly<z.output<typeof adminTlsSchema>>;
/** `listen.tls`: a TLS listener that may pass the client's subject upstream. */
export type ListenTlsSettings = DeepReadonly<z.output<typeof listenTlsSchema>>;
export type QueueSettings = DeepReadonly<z.output<typeof configSchema>['queue']>;

/** One upstream with the `defaults` section merged in. */
export interface UpstreamConfig {
  readonly name: string;
  /** The first target's url: the whole upstream when it has one (`url:`), and what probes of it use. */
  readonly url: string;
  /** At least one; `url: X` is `[{ name: <upstream>-1, url: X }]`. */
  readonly targets: readonly TargetConfig[];
  readonly balance: 'least-request' | 'round-robin';
  readonly retry: RetrySettings;
  readonly sticky?: StickySettings;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly failureStatuses: readonly number[];
  readonly maxConcurrent: number;
  readonly breaker: BreakerSettings;
  readonly healthCheck?: HealthCheckSettings;
  readonly tls?: { readonly rejectUnauthorized: boolean; readonly ca?: string; readonly servername?: string };
  /** Added to every request it receives, replacing the caller's copies (`upstreams.NAME.headers`). */
  readonly headers?: Readonly<Record<string, string>>;
}

type Raw = z.output<typeof configSchema>;

/** The validated, defaulted, frozen configuration the rest of the code receives. */
export interface GatewayConfig {
  readonly listen: DeepReadonly<Raw['listen']>;
  readonly admin: DeepReadonly<Raw['admin']>;
  readonly shutdown: DeepReadonly<Raw['shutdown']>;
  readonly log: DeepReadonly<Raw['log']>;
  /** Queued delivery's store and worker settings. */
  readonly queue: DeepReadonly<Raw['queue']>;
  readonly upstreams: readonly UpstreamConfig[];
  readonly routes: readonly RouteConfig[];
}
