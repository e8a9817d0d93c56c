import { trimBaseUrl } from './base-url.js';
import { lostUpstreams, type GatewayStatus } from './status-types.js';

/** Options of `watchConnection` (README "Caller kit"). */
export interface WatchOptions {
  /** Where the gateway is; `''` in a browser means this page's origin. */
  baseUrl: string;
  /** How often `/status` is polled; also each poll's deadline. Default 2000. */
  intervalMs?: number;
  /** Upstreams without which this caller can do nothing: while one is lost the state is `offline`, not `degraded`. */
  essential?: string[];
  fetch?: typeof fetch;
}

export type ConnectionState = 'online' | 'degraded' | 'offline';

export interface ConnectionEvents {
  /** No answer, `status: down`, or an essential upstream lost. `lost` names the upstreams lost (empty without an answer). */
  lost: { reason: 'unreachable' | 'down' | 'essential'; lost: string[]; error?: unknown };
  /** Answering, but these upstreams are lost; emitted again when the set changes. */
  degraded: { lost: string[] };
  /** Online again after `offline` or `degraded`. */
  back: { status: GatewayStatus };
  /** The gateway's `instanceId` changed: it restarted (emitted before `back`). */
  restarted: { previous: string; current: string };
  /** Every answer to a poll. */
  status: GatewayStatus;
}

export interface ConnectionWatch {
  readonly state: ConnectionState;
  /** The last `/status` answer, or null before the first. */
  readonly status: GatewayStatus | null;
  /** Upstreams lost at the last poll. */
  readonly lost: readonly string[];
  /** Subscribes; returns the function that unsubscribes. */
  on<E extends keyof ConnectionEvents>(event: E, listener: (detail: ConnectionEvents[E]) => void): () => void;
  /** Polls now (e.g. after a request failed without an answer) and resolves with the new state. */
  check(): Promise<ConnectionState>;
  stop(): void;
}

/**
 * Polls `/status` and turns its answers into events. `navigator.onLine` proves nothing about
 * the way to the backend; only an answer from it does. A poll that has not been answered when
 * the next is due counts as no answer, so a loss is reported within one interval.
 */
export function watchConnection(options: WatchOptions): ConnectionWatch {
  const intervalMs = options.intervalMs ?? 2000;
  const essential = options.essential ?? [];
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const url = `${trimBaseUrl(options.baseUrl)}/status`;
  const listeners = new Map<string, Set<(detail: never) => void>>();
  let state: ConnectionState = 'online';
  let status: GatewayStatus | null = null;
  let lost: string[] = [];
  let instanceId: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let inFlight: Promise<ConnectionState> | undefined;

  const emit = <E extends keyof ConnectionEvents>(event: E, detail: ConnectionEvents[E]): void => {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        (listener as (d: ConnectionEvents[E]) => void)(detail);
      } catch (err) {
        // A listener's bug must not stop the polling.
        setTimeout(() => {
          throw err;
        });
      }
    }
  };

  async function poll(): Promise<ConnectionState> {
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(new DOMException('no /status answer in time', 'TimeoutError')), intervalMs);
    let answer: GatewayStatus | undefined;
    let error: unknown;
    try {
      const res = await doFetch(url, { cache: 'no-store', signal: controller.signal, headers: { accept: 'application/json' } });
      const body = (await res.json()) as GatewayStatus;
      if (typeof body?.status === 'string' && typeof body.instanceId === 'string' && body.upstreams) answer = body;
      else error = new Error(`unexpected /status answer (HTTP ${res.status})`);
    } catch (err) {
      error = err;
    } finally {
      clearTimeout(deadline);
    }
    if (!stopped) apply(answer, error);
    return state;
  }

  function apply(answer: GatewayStatus | undefined, error: unknown): void {
    const before = state;
    const lostBefore = lost.join();
    if (!answer) {
      lost = [];
      state = 'offline';
      if (before !== 'offline') emit('lost', { reason: 'unreachable', lost, error });
      return;
    }
    status = answer;
    lost = lostUpstreams(answer);
    const essentialLost = lost.some((name) => essential.includes(name));
    state = answer.status === 'down' || essentialLost ? 'offline' : lost.length > 0 || answer.status === 'degraded' ? 'degraded' : 'online';
    emit('status', answer);
    if (instanceId !== undefined && answer.instanceId !== instanceId) emit('restarted', { previous: instanceId, current: answer.instanceId });
    instanceId = answer.instanceId;
    if (state === 'offline' && before !== 'offline') emit('lost', { reason: answer.status === 'down' ? 'down' : 'essential', lost });
    if (state === 'degraded' && (before !== 'degraded' || lost.join() !== lostBefore)) emit('degraded', { lost });
    if (state === 'online' && before !== 'online') emit('back', { status: answer });
  }

  function schedule(): void {
    if (stopped) return;
    const started = Date.now();
    inFlight = poll().finally(() => {
      inFlight = undefined;
      if (!stopped) timer = setTimeout(schedule, Math.max(0, intervalMs - (Date.now() - started)));
    });
  }

  schedule();
  return {
    get state() {
      return state;
    },
    get status() {
      return status;
    },
    get lost() {
      return lost;
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener as (detail: never) => void);
      return () => void set.delete(listener as (detail: never) => void);
    },
    check() {
      if (inFlight) return inFlight;
      clearTimeout(timer);
      schedule();
      return inFlight ?? Promise.resolve(state);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      listeners.clear();
    },
  };
}
