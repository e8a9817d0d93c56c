/**
 * `breakwater/client`: the caller kit (README "Caller kit"). Standalone: it imports nothing
 * from the gateway's sources, so it ships to browsers as it is.
 */
export { createClient, generateKey, type Client, type ClientOptions, type ClientRequestInit, type RetryInfo } from './create-client.js';
export { ProblemError, readProblem, retryAfterMs, type Problem } from './problem.js';
export { watchConnection, type ConnectionEvents, type ConnectionState, type ConnectionWatch, type WatchOptions } from './watch-connection.js';
export { createDraftStore, type Draft, type DraftStorage, type DraftStore, type DraftStoreOptions } from './draft-store.js';
export { lostUpstreams, type AdminBreaker, type BreakersSnapshot, type BreakerState, type BreakerTransition, type GatewayStatus, type HealthState, type TargetStatus, type UpstreamStatus } from './status-types.js';
export type { RetryOptions } from './backoff.js';
export type { BudgetOptions } from './retry-budget.js';
