/**
 * Which log format the process writes (`log.format`), and what a pretty line reads like:
 * pino-pretty with the gateway's options, formatting the same objects the gateway logs.
 */
import { prettyFactory } from 'pino-pretty';
import { loadConfigFile } from '../../src/config/load';
import { DEMO_CONFIG_PATH } from '../../src/demo';
import { chooseLogFormat, useColor } from '../../src/server/log-format';
import { prettyOptions } from '../../src/server/pretty-transport';

describe('chooseLogFormat', () => {
  it.each([
    ['auto', true, 'pretty'],
    ['auto', false, 'json'],
    ['json', true, 'json'],
    ['json', false, 'json'],
    ['pretty', true, 'pretty'],
    ['pretty', false, 'pretty'],
  ] as const)('%s with a terminal: %s → %s', (setting, terminal, want) => {
    expect(chooseLogFormat(setting, terminal)).toBe(want);
  });
});

describe('useColor', () => {
  it.each([
    [true, {}, true],
    [true, { NO_COLOR: '' }, true],
    [true, { NO_COLOR: '1' }, false],
    [false, {}, false],
  ] as const)('terminal %s, env %j → %s', (terminal, env, want) => {
    expect(useColor(terminal, env)).toBe(want);
  });
});

describe('the demo configuration', () => {
  it('logs pretty lines by default and JSON with LOG_FORMAT=json', () => {
    expect(loadConfigFile(DEMO_CONFIG_PATH, {}).log.format).toBe('pretty');
    expect(loadConfigFile(DEMO_CONFIG_PATH, { LOG_FORMAT: 'json' }).log.format).toBe('json');
  });
});

describe('pretty lines', () => {
  const pretty = prettyFactory(prettyOptions(false));
  const time = '2026-12-03T14:05:06.789Z';
  const clock = new Date(time).toTimeString().slice(0, 8); // local time, as SYS: prints it

  it('a request line leads with method, path, status and duration; the rest follows on the line', () => {
    const line = pretty({ level: 30, time, service: 'breakwater', requestId: 'r-1', req: { method: 'GET', path: '/api/loans' }, route: '/api/loans', upstream: 'business', code: undefined, breaker: 'closed', res: { status: 200 }, durationMs: 8.2, msg: 'request completed' });
    expect(line).toBe(`[${clock}.789] INFO: GET /api/loans → 200 8.2 ms request completed {"requestId":"r-1","route":"/api/loans","upstream":"business","breaker":"closed"}\n`);
  });

  it('an aborted request and a gateway error', () => {
    expect(pretty({ level: 40, time, req: { method: 'POST', path: '/x' }, res: { status: null }, durationMs: 3, msg: 'request aborted' })).toBe(`[${clock}.789] WARN: POST /x → aborted 3 ms request aborted\n`);
    expect(pretty({ level: 40, time, requestId: 'r-2', req: { method: 'GET', path: '/y' }, code: 'CIRCUIT_OPEN', res: { status: 503 }, durationMs: 0.4, msg: 'request completed' })).toBe(`[${clock}.789] WARN: GET /y → 503 0.4 ms request completed {"requestId":"r-2","code":"CIRCUIT_OPEN"}\n`);
  });

  it('an event line keeps its message and its members', () => {
    expect(pretty({ level: 30, time, service: 'breakwater', event: 'breaker-transition', upstream: 'business', from: 'half-open', to: 'closed', reason: 'trial-succeeded', msg: 'breaker business: half-open → closed (trial-succeeded)' })).toBe(
      `[${clock}.789] INFO: breaker business: half-open → closed (trial-succeeded) {"event":"breaker-transition","upstream":"business","from":"half-open","to":"closed","reason":"trial-succeeded"}\n`,
    );
  });

  it('colours the status by class when colour is on', () => {
    const coloured = prettyFactory(prettyOptions(true));
    // eslint-disable-next-line no-control-regex
    const plain = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, '');
    const ok = coloured({ level: 30, time, req: { method: 'GET', path: '/a' }, res: { status: 200 }, msg: 'request completed' });
    const failed = coloured({ level: 40, time, req: { method: 'GET', path: '/a' }, res: { status: 502 }, msg: 'request completed' });
    expect(ok).toContain('\u001b[32m200');
    expect(failed).toContain('\u001b[31m502');
    expect(plain(ok)).toBe(`[${clock}.789] INFO: GET /a → 200 request completed\n`);
  });
});
