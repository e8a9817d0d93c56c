/*
 * The dashboard's queued-delivery panel (docs/queue.md): GET /admin/queue every 2 s (and on
 * every message-dead event); no routes means none is queued, and the section stays hidden.
 * Dead letters get a retry button (POST /admin/queue/messages/{id}/retry).
 */
import { $, h, setText } from './dom';
import { formatDuration } from './format';

/** One route of GET /admin/queue. */
interface QueueRoute {
  upstream: string;
  counts: { queued: number; delivering: number; delivered: number; rejected: number; dead: number };
  oldestPendingAt: string | null;
  oldestPendingAgeSeconds: number;
}

/** One message of GET /admin/queue/messages. */
interface DeadLetter {
  id: string;
  route: string;
  attempts: number;
  request: { method: string };
  lastProblem: { code: string; status?: number } | null;
}

export interface QueuePanelDeps {
  /** The dashboard's authorised fetch of an admin path. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** The body as JSON, or {} when it is not JSON. */
  readBody(res: Response): Promise<Record<string, unknown>>;
}

/** Builds the panel; `load()` refreshes it now and every 2 s after. */
export function createQueuePanel(deps: QueuePanelDeps): { load(): Promise<void> } {
  const els = { section: $('queue'), store: $('queue-store'), routes: $('queue-routes'), dead: $('dead-letters'), deadEmpty: $('dead-empty') };
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function load(): Promise<void> {
    clearTimeout(timer);
    timer = setTimeout(() => void load(), 2000);
    try {
      const res = await deps.request('/admin/queue');
      if (!res.ok) return;
      const summary = (await res.json()) as { store: string; routes: Record<string, QueueRoute> };
      if (Object.keys(summary.routes).length === 0) {
        clearTimeout(timer);
        return;
      }
      els.section.hidden = false;
      setText(els.store, '(' + summary.store + ')');
      els.routes.replaceChildren(...Object.keys(summary.routes).map((path) => {
        const r = summary.routes[path] as QueueRoute;
        const c = r.counts;
        return h('tr', { 'data-route': path }, [h('td', { text: path }), h('td', { text: r.upstream }),
          h('td', { text: String(c.queued), 'data-role': 'queued' }), h('td', { text: String(c.delivering) }), h('td', { text: String(c.delivered), 'data-role': 'delivered' }),
          h('td', { text: String(c.rejected) }), h('td', { text: String(c.dead), 'data-role': 'dead' }),
          h('td', { text: r.oldestPendingAt ? formatDuration(r.oldestPendingAgeSeconds * 1000) : '–' })]);
      }));
      const dead = await deps.request('/admin/queue/messages?status=dead&limit=20');
      if (dead.ok) renderDeadLetters(((await dead.json()) as { messages: DeadLetter[] }).messages);
    } catch {
      // The breaker view already says when the admin API cannot be reached.
    }
  }

  function renderDeadLetters(messages: DeadLetter[]): void {
    els.deadEmpty.hidden = messages.length > 0;
    els.dead.replaceChildren(...messages.map((m) => {
      const button = h('button', { type: 'button', text: 'Retry', 'data-action': 'retry' }) as HTMLButtonElement;
      const note = h('span', { class: 'muted', 'data-role': 'note' });
      button.addEventListener('click', () => {
        if (!window.confirm('Queue message ' + m.id + ' on ' + m.route + ' again (attempts start from 0)?')) return;
        button.disabled = true;
        deps.request('/admin/queue/messages/' + encodeURIComponent(m.id) + '/retry', { method: 'POST' }).then(async (res) => {
          if (res.ok) return load();
          const problem = await deps.readBody(res);
          button.disabled = false;
          setText(note, ' retry failed (' + res.status + (typeof problem.code === 'string' ? ' ' + problem.code : '') + ')');
        }, () => {
          button.disabled = false;
          setText(note, ' retry failed: cannot reach the admin API');
        });
      });
      const why = m.lastProblem ? m.lastProblem.code + (m.lastProblem.status ? ' ' + m.lastProblem.status : '') : '';
      return h('li', { 'data-message': m.id }, [h('code', { text: m.id }), ' ' + m.request.method + ' ' + m.route + ' · ' + m.attempts + ' attempts · ' + why + ' ', button, note]);
    }));
  }

  return { load };
}
