import fc from 'fast-check';
import * as format from '../../src/web/dashboard/format';
import { createSseState, parseSseChunk, type SseEvent, type SseState } from '../../src/web/dashboard/sse-parser';

// The dashboard's pure parts (src/web/dashboard/), as the browser bundle uses them.
const dashboard = { createSseState, parseSseChunk, ...format };

/** Feeds the chunks one after another, as the browser does with each read() of the body. */
function feed(chunks: string[]): { state: SseState; events: SseEvent[] } {
  let state = createSseState();
  const events: SseEvent[] = [];
  for (const chunk of chunks) {
    const result = parseSseChunk(state, chunk);
    state = result.state;
    events.push(...result.events);
  }
  return { state, events };
}

const snapshot = JSON.stringify({ generatedAt: '2026-11-25T10:00:00.000Z', breakers: [{ name: 'credit-bureau', state: 'closed' }] });
const transition = JSON.stringify({ name: 'credit-bureau', from: 'closed', to: 'open', at: '2026-11-25T10:00:01.000Z', reason: 'failures' });
const stream = `: heartbeat\n\nevent: snapshot\ndata: ${snapshot}\n\nevent: state\ndata: ${transition}\n\n`;
const expected: SseEvent[] = [
  { type: 'snapshot', data: snapshot, id: '' },
  { type: 'state', data: transition, id: '' },
];

describe('dashboard SSE parser', () => {
  it('parses several events from one chunk', () => {
    expect(feed([stream]).events).toEqual(expected);
  });

  it('reassembles events split across chunks, at any position', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(feed([stream.slice(0, i), stream.slice(i)]).events).toEqual(expected);
    }
  });

  it('emits an event only with the chunk that ends it (its blank line)', () => {
    const first = parseSseChunk(createSseState(), `event: state\ndata: ${transition}\n`);
    expect(first.events).toEqual([]);
    const second = parseSseChunk(first.state, '\nevent: snap');
    expect(second.events).toEqual([{ type: 'state', data: transition, id: '' }]);
    expect(second.state.buffer).toBe('event: snap');
  });

  it('does not change the state it is given', () => {
    const state = parseSseChunk(createSseState(), 'event: state\ndata: a\n').state;
    const copy = JSON.parse(JSON.stringify(state)) as SseState;
    parseSseChunk(state, '\n');
    expect(state).toEqual(copy);
  });

  it('skips comments, including heartbeats between and inside events', () => {
    const events = feed([': heartbeat\n\n', ':\n', 'event: state\n: in the middle\ndata: x\n\n', ': heartbeat\n\n']).events;
    expect(events).toEqual([{ type: 'state', data: 'x', id: '' }]);
  });

  it('joins multi-line data with LF', () => {
    const events = feed(['event: snapshot\ndata: {\n', 'data:   "a": 1\ndata: }\n\n']).events;
    expect(events).toEqual([{ type: 'snapshot', data: '{\n  "a": 1\n}', id: '' }]);
    expect(JSON.parse(events[0]!.data)).toEqual({ a: 1 });
  });

  it('removes one space after the colon, and no more', () => {
    expect(feed(['data:no-space\n\n', 'data:  two\n\n']).events.map((e) => e.data)).toEqual(['no-space', ' two']);
  });

  it('defaults the event type to message and resets it after each event', () => {
    expect(feed(['event: state\ndata: 1\n\ndata: 2\n\n']).events.map((e) => e.type)).toEqual(['state', 'message']);
  });

  it('dispatches nothing for an event without data', () => {
    expect(feed(['event: state\n\n', 'id: 7\n\n']).events).toEqual([]);
  });

  it('dispatches an empty data line as an empty string', () => {
    expect(feed(['data\n\n', 'data:\n\n']).events.map((e) => e.data)).toEqual(['', '']);
  });

  it('accepts CRLF and CR line endings, also with the CRLF pair split across chunks', () => {
    const crlf = stream.replace(/\n/g, '\r\n');
    const cr = stream.replace(/\n/g, '\r');
    expect(feed([crlf]).events).toEqual(expected);
    expect(feed([cr]).events).toEqual(expected);
    for (let i = 0; i <= crlf.length; i++) {
      expect(feed([crlf.slice(0, i), crlf.slice(i)]).events).toEqual(expected);
    }
  });

  it('strips a leading byte-order mark, even when it arrives alone', () => {
    expect(feed(['\uFEFF', 'data: x\n\n']).events).toEqual([{ type: 'message', data: 'x', id: '' }]);
  });

  it('keeps the last event id and the retry interval', () => {
    const { events, state } = feed(['id: 1\ndata: a\n\n', 'retry: 2500\ndata: b\n\n', 'retry: soon\n\n']);
    expect(events.map((e) => e.id)).toEqual(['1', '1']);
    expect(state.retry).toBe(2500);
  });

  it('ignores unknown fields and a lone field name without colon', () => {
    expect(feed(['foo: bar\nevent\ndata: x\n\n']).events).toEqual([{ type: 'message', data: 'x', id: '' }]);
  });

  it('gives the same events however the stream is cut into chunks', () => {
    const text = `${stream}data: line 1\r\ndata: line 2\r\n\r\n: bye\revent: state\rdata: ${transition}\r\r`;
    const whole = feed([text]).events;
    expect(whole).toHaveLength(4);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: text.length }), { maxLength: 12 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), text.length];
        const chunks = points.slice(1).map((end, i) => text.slice(points[i], end));
        expect(feed(chunks).events).toEqual(whole);
      }),
    );
  });
});

describe('dashboard formatting', () => {
  it('labels states in words, marking forced ones', () => {
    expect(dashboard.stateLabel({ state: 'closed', forced: null })).toBe('CLOSED');
    expect(dashboard.stateLabel({ state: 'half-open', forced: null })).toBe('HALF-OPEN');
    expect(dashboard.stateLabel({ state: 'open', forced: 'open' })).toBe('OPEN (forced)');
  });

  it('computes requests per second over the window with one decimal', () => {
    expect(dashboard.requestsPerSecond({ requests: 12, windowMs: 10000 })).toBe('1.2');
    expect(dashboard.requestsPerSecond({ requests: 0, windowMs: 10000 })).toBe('0.0');
  });

  it('formats durations briefly', () => {
    expect(dashboard.formatDuration(12_400)).toBe('12 s');
    expect(dashboard.formatDuration(184_000)).toBe('3 min 4 s');
    expect(dashboard.formatDuration(25 * 60_000 + 5_000)).toBe('25 min');
    expect(dashboard.formatDuration(2 * 3_600_000 + 5 * 60_000)).toBe('2 h 5 min');
    expect(dashboard.formatDuration(3 * 86_400_000 + 2 * 3_600_000)).toBe('3 d 2 h');
  });
});
