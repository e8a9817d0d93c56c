/**
 * A Server-Sent Events client for tests over node:http: collects every event (and comment)
 * with its arrival time, and waits for the ones a test expects.
 */
import http from 'node:http';

export interface SseEvent {
  type: string;
  data: string;
  /** Date.now() when the event's terminating blank line arrived. */
  at: number;
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  readonly events: SseEvent[];
  /** Comment lines (`: heartbeat`), without the colon. */
  readonly comments: string[];
  /** True once the server ended the stream (cleanly, with its last chunk). */
  ended: boolean;
  /** True if the connection broke before a clean end. */
  aborted: boolean;
  /** Resolves with the first event (from `from` on) that matches, or rejects after `timeoutMs`. */
  next(match: (e: SseEvent) => boolean, timeoutMs?: number, from?: number): Promise<SseEvent>;
  close(): void;
}

/** Opens `GET path` with `Accept: text/event-stream`; resolves once the response head arrived. */
export function openSse(base: string, path = '/admin/breakers/stream', headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { headers: { Accept: 'text/event-stream', ...headers }, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      let buffer = '';
      let type = '';
      let data: string[] | null = null;
      const client: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        ended: false,
        aborted: false,
        async next(match, timeoutMs = 2000, from = 0) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const found = events.slice(from).find(match);
            if (found) return found;
            if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs} ms (got ${events.map((e) => e.type).join(', ')})`);
            await new Promise((r) => setTimeout(r, 5));
          }
        },
        close() {
          req.destroy();
        },
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (data !== null) events.push({ type: type || 'message', data: data.join('\n'), at: Date.now() });
            type = '';
            data = null;
          } else if (line.startsWith(':')) {
            comments.push(line.slice(1).trim());
          } else {
            const i = line.indexOf(':');
            const field = i === -1 ? line : line.slice(0, i);
            const value = i === -1 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (field === 'event') type = value;
            else if (field === 'data') (data ??= []).push(value);
          }
        }
      });
      res.on('end', () => {
        client.ended = true;
      });
      res.on('aborted', () => {
        client.aborted = true;
      });
      res.on('error', () => {
        client.aborted = true;
      });
      resolve(client);
    });
    req.end();
  });
}
