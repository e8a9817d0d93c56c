/*
 * Server-Sent Events parser (WHATWG HTML "event stream interpretation"), pure, for the
 * dashboard's fetch()-based reader of GET /admin/breakers/stream.
 */

/** One completed event. */
export interface SseEvent {
  type: string;
  data: string;
  id: string;
}

/** The parser's state between chunks: an unterminated line and the event being built. */
export interface SseState {
  buffer: string;
  type: string;
  data: string[] | null;
  id: string;
  retry: number | null;
  pendingCr: boolean;
  started: boolean;
}

export function createSseState(): SseState {
  return { buffer: '', type: '', data: null, id: '', retry: null, pendingCr: false, started: false };
}

/**
 * Feeds one decoded chunk of an event stream to the parser.
 *
 * Returns `{ state, events }`: the state to pass with the next chunk (the input state is not
 * changed) and every event completed by this chunk, as `{ type, data, id }`. An event is only
 * complete at its blank line, so an event split across chunks comes out with the chunk that
 * ends it. Lines may end in LF, CRLF or CR (a CR at the end of a chunk is remembered so that
 * an LF opening the next chunk is not read as a blank line). Comment lines (`: heartbeat`)
 * are skipped, `data` lines are joined with LF, `event` defaults to `message`, `retry` is
 * kept in `state.retry` for the caller's reconnect delay.
 */
export function parseSseChunk(state: SseState | null, chunk: string): { state: SseState; events: SseEvent[] } {
  const s = state || createSseState();
  if (typeof chunk !== 'string' || chunk.length === 0) return { state: s, events: [] };
  if (s.pendingCr && chunk.charCodeAt(0) === 10) chunk = chunk.slice(1);
  let buffer = s.buffer + chunk;
  let started = s.started;
  if (!started && buffer.length > 0) {
    if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
    started = true;
  }
  let type = s.type;
  let data = s.data ? s.data.slice() : null;
  let id = s.id;
  let retry = s.retry;
  const events: SseEvent[] = [];
  let pos = 0;
  for (;;) {
    const lf = buffer.indexOf('\n', pos);
    const cr = buffer.indexOf('\r', pos);
    if (lf === -1 && cr === -1) break;
    let end: number;
    let next: number;
    if (cr !== -1 && (lf === -1 || cr < lf)) {
      end = cr;
      next = buffer.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
    } else {
      end = lf;
      next = lf + 1;
    }
    const line = buffer.slice(pos, end);
    pos = next;
    if (line === '') {
      if (data !== null) events.push({ type: type || 'message', data: data.join('\n'), id: id });
      type = '';
      data = null;
      continue;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') (data || (data = [])).push(value);
    else if (field === 'id') {
      if (value.indexOf('\u0000') === -1) id = value;
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) retry = Number(value);
    }
  }
  const pendingCr = pos > 0 && pos === buffer.length && buffer.charCodeAt(pos - 1) === 13;
  return {
    state: { buffer: buffer.slice(pos), type: type, data: data, id: id, retry: retry, pendingCr: pendingCr, started: started },
    events: events,
  };
}
