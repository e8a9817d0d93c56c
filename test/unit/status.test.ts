/**
 * SPEC §6 `/status` computed from state in memory: ok / degraded / down, restart fields, and
 * every answer valid against openapi.yaml's GatewayStatus.
 */
import { parseConfig } from '../../src/config/load';
import { computeStatus, type Instance } from '../../src/status/status';
import { UpstreamRegistry } from '../../src/upstreams/registry';
import { expectToMatchComponent } from '../helpers/openapi';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const clock = { now: () => T0 };
const instance: Instance = { instanceId: 'gw-1', startedAt: T0 - 60_000, version: '1.2.3' };

function setup() {
  const config = parseConfig({
    upstreams: { business: { url: 'http://127.0.0.1:1' }, bureau: { url: 'http://127.0.0.1:2' }, archive: { url: 'http://127.0.0.1:3' } },
    routes: [
      { path: '/apply', upstream: 'business', requires: ['bureau'] },
      { path: '/docs', upstream: 'archive' },
    ],
  });
  return { config, registry: new UpstreamRegistry(config.upstreams, clock) };
}

describe('computeStatus', () => {
  it('ok when nothing is lost, with the gateway identity and every upstream', () => {
    const { config, registry } = setup();
    const s = computeStatus(registry, instance, false, config.routes);
    expect(s).toEqual({
      status: 'ok',
      instanceId: 'gw-1',
      startedAt: '2029-12-31T23:59:00.000Z',
      version: '1.2.3',
      upstreams: {
        business: {
          state: 'unknown', breaker: 'closed', since: '2030-01-01T00:00:00.000Z', lastCheckAt: null, restartedAt: null, recoveredAt: null,
          targets: { 'business-1': { state: 'unknown', breaker: 'closed', since: '2030-01-01T00:00:00.000Z' } },
        },
        bureau: expect.objectContaining({ state: 'unknown', breaker: 'closed' }),
        archive: expect.objectContaining({ state: 'unknown', breaker: 'closed' }),
      },
    });
    expectToMatchComponent('GatewayStatus', s);
    registry.close();
  });

  it('degraded while some route can still be served; down when none can', () => {
    const { config, registry } = setup();
    const bureau = registry.get('bureau');
    bureau.health.state = 'down';
    bureau.breaker.markHealthDown(T0 + 1000);
    expect(computeStatus(registry, instance, false, config.routes).status).toBe('degraded'); // /docs still works
    registry.get('archive').breaker.forceOpen();
    const s = computeStatus(registry, instance, false, config.routes);
    expect(s.status).toBe('down'); // business is fine, but its only route requires bureau
    expect(s.upstreams.bureau).toMatchObject({ state: 'down', breaker: 'open' });
    expectToMatchComponent('GatewayStatus', s);
    // Without routes: down only when every upstream is lost.
    expect(computeStatus(registry, instance, false).status).toBe('degraded');
    registry.close();
  });

  it('down while draining', () => {
    const { config, registry } = setup();
    expect(computeStatus(registry, instance, true, config.routes).status).toBe('down');
    registry.close();
  });

  it('shows restartedAt, recoveredAt and lastCheckAt as date-times', () => {
    const { config, registry } = setup();
    Object.assign(registry.get('bureau').health, { state: 'up', since: T0 - 5000, lastCheckAt: T0 - 10, restartedAt: T0 - 5000, recoveredAt: T0 - 5000 });
    const s = computeStatus(registry, instance, false, config.routes);
    expect(s.upstreams.bureau).toMatchObject({
      state: 'up',
      lastCheckAt: '2029-12-31T23:59:59.990Z',
      restartedAt: '2029-12-31T23:59:55.000Z',
      recoveredAt: '2029-12-31T23:59:55.000Z',
    });
    expectToMatchComponent('GatewayStatus', s);
    registry.close();
  });
});
