import type { AdminBreaker } from '../../client/index.js';
import { dateTimeFmt, formatClock, h, setText } from './dom';
import { formatDuration, formatLatency, formatPercent, REASONS, requestsPerSecond, stateLabel, toMs } from './format';

/* One card per upstream: built once, updated from each snapshot and transition. */

export type Action = 'open' | 'close' | 'reset';

export const ACTIONS: Readonly<Record<Action, { label: string; done: string }>> = {
  open: { label: 'Force open', done: 'Forced open' },
  close: { label: 'Force close', done: 'Forced closed' },
  reset: { label: 'Reset', done: 'Reset' },
};

/** What a card shows; a transition may update `since` with epoch ms before the next snapshot. */
export type CardData = Omit<AdminBreaker, 'since'> & { since: string | number };

export interface Card {
  root: HTMLElement;
  parts: Record<string, HTMLElement>;
  buttons: HTMLButtonElement[];
  data: CardData;
}

let cardSeq = 0;

export function buildCard(name: string, onAction: (name: string, action: Action) => void): Card {
  const id = 'up-' + ++cardSeq;
  const parts: Record<string, HTMLElement> = {};
  const metric = function (label: string, role: string): HTMLElement {
    parts[role] = h('dd', { 'data-role': role });
    return h('div', { class: 'metric' }, [h('dt', { text: label }), parts[role]]);
  };
  parts.state = h('span', { class: 'state', 'data-role': 'state', 'aria-live': 'polite', 'aria-atomic': 'true' });
  parts.since = h('span', { class: 'since', 'data-role': 'since' });
  parts.reason = h('span', { class: 'reason', 'data-role': 'reason' });
  parts.forcedNote = h('p', { class: 'forced-note', 'data-role': 'forced-note', hidden: '' });
  parts.counts = h('p', { class: 'counts', 'data-role': 'counts' });
  parts.targets = h('ul', { class: 'targets', 'data-role': 'targets', 'aria-label': 'Targets' });
  parts.message = h('p', { class: 'card-message', 'data-role': 'message', role: 'status' });
  const buttons = (Object.keys(ACTIONS) as Action[]).map(function (action) {
    const button = h('button', {
      type: 'button',
      class: 'btn btn-' + action,
      'data-action': action,
      'aria-describedby': id,
      text: ACTIONS[action].label,
    }) as HTMLButtonElement;
    button.addEventListener('click', function () {
      onAction(name, action);
    });
    return button;
  });
  const root = h('article', { class: 'card', 'data-upstream': name, 'aria-labelledby': id }, [
    h('header', { class: 'card-head' }, [h('h3', { id: id, class: 'name', text: name }), parts.state]),
    h('p', { class: 'card-sub' }, [parts.since, parts.reason]),
    parts.forcedNote,
    h('dl', { class: 'metrics' }, [
      metric('Error rate', 'error-rate'),
      metric('Requests/s', 'rps'),
      metric('p99 latency', 'p99'),
      metric('Health', 'health'),
      metric('Last restart', 'restart'),
      metric('Next trial', 'next-trial'),
    ]),
    parts.counts,
    parts.targets,
    h('div', { class: 'actions' }, buttons),
    parts.message,
  ]);
  return { root: root, parts: parts, buttons: buttons, data: null as unknown as CardData };
}

const part = (card: Card, role: string): HTMLElement => card.parts[role] as HTMLElement;

export function renderCard(card: Card, breaker: CardData, now: number): void {
  card.data = breaker;
  const root = card.root;
  root.dataset.state = breaker.state;
  root.dataset.forced = breaker.forced ? breaker.forced : '';
  const state = part(card, 'state');
  setText(state, stateLabel(breaker));
  state.className = 'state pill pill-' + breaker.state + (breaker.forced ? ' forced' : '');
  const reason = breaker.reason || '';
  const reasonEl = part(card, 'reason');
  setText(reasonEl, reason ? ' · ' + reason : '');
  reasonEl.title = REASONS[reason] || '';
  const since = toMs(breaker.since);
  part(card, 'since').title = since === null ? '' : 'since ' + dateTimeFmt.format(new Date(since));

  const forcedNote = part(card, 'forcedNote');
  forcedNote.hidden = !breaker.forced;
  setText(
    forcedNote,
    breaker.forced === 'open'
      ? 'Held open by an operator: every call is refused. Reset to return to automatic.'
      : breaker.forced === 'closed'
        ? 'Held closed by an operator: failures will not open it. Reset to return to automatic.'
        : '',
  );

  const stats = (breaker.stats || {}) as Partial<AdminBreaker['stats']>;
  const latency = stats.latencyMs || { p50: null, p95: null, p99: null };
  const hasTraffic = (stats.requests ?? 0) > 0;
  const errorRate = part(card, 'error-rate');
  setText(errorRate, hasTraffic ? formatPercent(stats.errorPercentage) : '—');
  errorRate.className = hasTraffic && (stats.errorPercentage ?? 0) > 0 ? 'warn' : '';
  setText(part(card, 'rps'), requestsPerSecond(stats as AdminBreaker['stats']));
  const p99 = part(card, 'p99');
  setText(p99, hasTraffic ? formatLatency(latency.p99) : '—');
  p99.title = hasTraffic ? 'p50 ' + formatLatency(latency.p50) + ' · p95 ' + formatLatency(latency.p95) + ' · p99 ' + formatLatency(latency.p99) : '';
  const windowS = stats.windowMs ? Math.round(stats.windowMs / 1000) + ' s' : 'window';
  setText(
    part(card, 'counts'),
    typeof stats.requests === 'number'
      ? 'Last ' + windowS + ': ' + stats.requests + ' req · ' + (stats.failures || 0) + ' failed · ' + (stats.timeouts || 0) + ' timed out · ' + (stats.rejections || 0) + ' rejected'
      : '',
  );

  renderTargets(part(card, 'targets'), breaker.targets ?? []);

  const health = (breaker.health || {}) as Partial<AdminBreaker['health']>;
  const healthEl = part(card, 'health');
  healthEl.dataset.health = health.state || 'unknown';
  const healthBits: string[] = [];
  const lastCheck = toMs(health.lastCheckAt);
  if (lastCheck !== null) healthBits.push('last check ' + formatClock(lastCheck));
  if (health.instanceId) healthBits.push('instance ' + health.instanceId);
  healthEl.title = healthBits.join(' · ');
  const restarted = toMs(health.restartedAt);
  part(card, 'restart').title = restarted !== null ? dateTimeFmt.format(new Date(restarted)) : '';
  const trial = toMs(breaker.nextTrialAt);
  part(card, 'next-trial').title = trial === null ? '' : dateTimeFmt.format(new Date(trial));
  updateClocks(card, now);
}

/** The parts of a card that depend on the current time; run every second. */
/** One row per target (docs/failover.md): its name, breaker state, health and requests in flight. */
function renderTargets(list: HTMLElement, targets: NonNullable<AdminBreaker['targets']>): void {
  list.hidden = targets.length === 0;
  list.replaceChildren(...targets.map((t) => {
    const health = t.health?.state ?? 'unknown';
    return h('li', { class: 'target', 'data-target': t.name, 'data-state': t.state }, [
      h('span', { class: 'target-name', text: t.name }),
      h('span', { class: 'state pill pill-' + t.state + (t.forced ? ' forced' : ''), text: stateLabel(t) }),
      h('span', { class: 'target-health', 'data-health': health, text: health.toUpperCase() + (typeof t.inFlight === 'number' ? ' · ' + t.inFlight + ' in flight' : '') }),
    ]);
  }));
}

export function updateClocks(card: Card, t: number): void {
  const b = card.data;
  const since = toMs(b.since);
  setText(part(card, 'since'), since === null ? '' : 'for ' + formatDuration(t - since));

  const health = (b.health || {}) as Partial<AdminBreaker['health']>;
  const healthSince = toMs(health.since);
  const healthWord = String(health.state || 'unknown').toUpperCase();
  setText(part(card, 'health'), healthWord + (healthSince !== null && health.state !== 'unknown' ? ' for ' + formatDuration(t - healthSince) : ''));

  const restarted = toMs(health.restartedAt);
  setText(part(card, 'restart'), restarted === null ? '—' : formatDuration(t - restarted) + ' ago');

  const trial = toMs(b.nextTrialAt);
  let trialText = '—';
  if (b.state === 'open') {
    if (trial !== null) trialText = trial > t ? 'in ' + formatDuration(trial - t + 999) : 'due now';
    else if (b.forced === 'open') trialText = 'none (forced)';
  }
  setText(part(card, 'next-trial'), trialText);
}
