export { startDemoUpstream, DEMO_MODES, type DemoKind, type DemoMode, type DemoUpstream, type DemoUpstreamOptions } from './demo-upstream';
export { startDemoUpstreams, DEMO_CONFIG_PATH, DEMO_INSTANCES, DEMO_PORTS, type DemoUpstreams } from './start-demo';
