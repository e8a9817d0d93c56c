/*
 * The dashboard's connection to GET /admin/breakers/stream, read with fetch() rather than
 * EventSource because EventSource cannot send the `Authorization: Bearer` header. A silent
 * stream is given up after STREAM_IDLE_MS (snapshots come every second); a lost one is
 * reconnected with exponential backoff and jitter, 1 s → 30 s, never below the server's `retry:`.
 */
import type { AdminApi } from './admin-api';
import { createSseState, parseSseChunk, type SseEvent } from './sse-parser';

const STREAM_IDLE_MS = 15000;
const MAX_BACKOFF_MS = 30000;

export interface StreamDeps {
  api: AdminApi;
  onEvent(event: SseEvent): void;
  /** `live`, `reconnecting` (with the text to show). */
  onStatus(status: string, text: string): void;
  /** A 401, with the token the stream was opened with. */
  onUnauthorized(usedToken: string): void;
  /** True while the dashboard waits for a token: no reconnecting then. */
  blocked(): boolean;
}

export class EventStreamConnection {
  private ctl: AbortController | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;

  constructor(private readonly deps: StreamDeps) {
    window.addEventListener('online', () => {
      if (this.reconnectTimer && !deps.blocked()) void this.connect();
    });
  }

  /** Opens the stream now (closing any open one), starting the backoff afresh. */
  start(): void {
    this.attempt = 0;
    void this.connect();
  }

  stop(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.ctl) this.ctl.abort();
    this.ctl = null;
  }

  private async connect(): Promise<void> {
    this.stop();
    const ctl = new AbortController();
    this.ctl = ctl;
    const usedToken = this.deps.api.token;
    let sse = createSseState();
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const kick = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ctl.abort(), STREAM_IDLE_MS);
    };
    try {
      kick();
      const res = await fetch('/admin/breakers/stream', {
        headers: this.deps.api.headers('text/event-stream'),
        cache: 'no-store',
        credentials: 'same-origin',
        signal: ctl.signal,
      });
      if (res.status === 401) {
        this.deps.onUnauthorized(usedToken);
        return;
      }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      this.deps.onStatus('live', 'live');
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        kick();
        const parsed = parseSseChunk(sse, decoder.decode(chunk.value, { stream: true }));
        sse = parsed.state;
        for (const event of parsed.events) {
          this.attempt = 0; // only a stream that delivers events counts as a recovery
          this.deps.onEvent(event);
        }
      }
    } catch {
      // network error, abort by the watchdog, or abort by a newer connection: decided below
    } finally {
      clearTimeout(watchdog);
    }
    if (ctl !== this.ctl || this.deps.blocked()) return; // superseded or waiting for a token
    this.scheduleReconnect(sse.retry);
  }

  private scheduleReconnect(retryMs: number | null): void {
    const base = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, this.attempt));
    const delay = Math.max(retryMs || 0, Math.round(base / 2 + (Math.random() * base) / 2));
    this.attempt += 1;
    this.deps.onStatus('reconnecting', 'reconnecting…');
    this.ctl = null;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }
}
