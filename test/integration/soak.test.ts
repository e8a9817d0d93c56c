/**
 * The short soak in `npm test` (issue 6): the same run as `npm run soak` (bench/soak-core.ts),
 * 8 000 requests instead of a million, so it stays under 20 s even on two busy cores (the
 * gateway, its upstream and the load generator share this one process).
 * Every fault of the mix must have been injected and answered exactly as it must be.
 */
import { FAULT_MIX, runSoak, type SoakReport } from '../../bench/soak-core';
import { activeResources, settledExcess } from '../helpers/leaks';

const REQUESTS = 8_000;

describe('soak (short)', () => {
  let report: SoakReport;
  let leaked: Record<string, number>;

  beforeAll(async () => {
    const before = activeResources();
    report = await runSoak({ requests: REQUESTS, concurrency: 32, warmupFraction: 0.2, seed: 20240 });
    leaked = await settledExcess(before);
    // A safety net against a hang, not a speed limit: 10-25 s on two cores, more than a
    // minute when other jobs take most of the machine (seen at a load average of 12).
  }, 180000);

  it(`answers all ${REQUESTS} requests, none of them unexpectedly`, () => {
    expect(report.unexpectedSamples).toEqual([]);
    expect(report.unexpected).toBe(0);
    expect(Object.values(report.answers).reduce((a, b) => a + b, 0)).toBe(REQUESTS);
  });

  it('injected every fault of the mix, each answered as its kind must be', () => {
    for (const fault of Object.keys(FAULT_MIX)) expect({ fault, injected: report.injected[fault as keyof typeof FAULT_MIX] > 0 }).toEqual({ fault, injected: true });
    // Less, per fault, the requests the upstream itself did not act on within timeoutMs (a
    // starved machine): those are rightly UPSTREAM_TIMEOUT (see SoakReport.lateUpstream).
    const late = (f: keyof typeof FAULT_MIX): number => report.lateUpstream[f] ?? 0;
    const i = Object.fromEntries(Object.entries(report.injected).map(([f, n]) => [f, n - late(f as keyof typeof FAULT_MIX)])) as typeof report.injected;
    const lateTotal = Object.values(report.lateUpstream).reduce((a, b) => a + b, 0);
    const expected = {
      '200': i.ok + i.post + i.slow,
      '500': i['status-500'],
      '404': i['status-404'],
      UPSTREAM_TIMEOUT: i.hang + lateTotal,
      UPSTREAM_CONNECTION_LOST: i.reset,
      UPSTREAM_BAD_RESPONSE: i['bad-http'],
      aborted: i['die-mid-body'],
    };
    expect(report.answers).toEqual(Object.fromEntries(Object.entries(expected).filter(([, n]) => n > 0)));
  });

  it('holds no request in flight and leaks no socket, server or timer afterwards', () => {
    expect(report.gatewayInFlightAtEnd).toBe(0);
    expect(leaked).toEqual({});
  });

  it('heap after warm-up grows by less than 10 %', () => {
    expect(report.memory.gcForced).toBe(true);
    expect(report.memory.heapGrowthPercent).toBeLessThan(10);
  });
});
