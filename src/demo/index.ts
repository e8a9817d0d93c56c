export { startDemoUpstream, DEMO_MODES, type DemoKind, type DemoMode, type DemoUpstream, type DemoUpstreamOptions } from './demo-upstream';
export { startDemoUpstreams, DEMO_CONFIG_PATH, DEMO_PORTS, type DemoServer, type DemoUpstreams } from './start-demo';
export { startIdentityProvider, DEMO_USERS, type IdentityProvider, type IdentityProviderOptions } from './identity-provider';
export { createCaseApp, DEMO_APP_DIR, SESSION_COOKIE, type CaseApp, type LoanCase } from './case-app';
