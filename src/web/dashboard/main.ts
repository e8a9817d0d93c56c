/*
 * Breakwater operator dashboard (README "Dashboard"; GET /dashboard on the admin listener).
 *
 * Bundled by scripts/build-front.mjs (esbuild) into one classic script with no dependencies;
 * the pure parts (the SSE parser, the formatters) are their own modules with unit tests, the
 * admin API (token, requests) and the event stream's connection too. This module holds the
 * page's state: cards, summary, token form and actions.
 */
import type { AdminBreaker, BreakersSnapshot, BreakerTransition } from '../../client/index.js';
import { AuthRequired, createAdminApi, readBody } from './admin-api';
import { ACTIONS, buildCard, renderCard, updateClocks, type Action, type Card, type CardData } from './cards';
import { $, formatClock, setText } from './dom';
import { formatDuration, toMs } from './format';
import { createQueuePanel } from './queue';
import { addTimelineEntry } from './timeline';
import type { SseEvent } from './sse-parser';
import { EventStreamConnection } from './stream';

const STALE_MS = 5000;
const PENDING_ACTION_TTL_MS = 120000;

const els = {
  connection: $('connection'),
  updated: $('updated'),
  summary: $('summary'),
  forget: $('forget-token'),
  tokenForm: $<HTMLFormElement>('token-form'),
  tokenInput: $<HTMLInputElement>('token-input'),
  tokenMessage: $('token-message'),
  notice: $('notice'),
  grid: $('grid'),
  gridEmpty: $('grid-empty'),
  timeline: $('timeline'),
  timelineEmpty: $('timeline-empty'),
};

const cards = new Map<string, Card>();
const seenTransitions = new Set<string>();
const api = createAdminApi(onUnauthorized);
let authBlocked = false;
let clockOffset = 0; // server time − browser time, from snapshot.generatedAt
let lastUpdateAt: number | null = null;
let pendingAction: { name: string; action: Action; at: number } | null = null;

function now(): number {
  return Date.now() + clockOffset;
}

// --- token ------------------------------------------------------------------------------

function storeToken(value: string): void {
  api.setToken(value);
  els.forget.hidden = !value;
}

/** A 401 arrived for a request sent with `usedToken`: stop, and ask for a token. */
function onUnauthorized(usedToken: string): void {
  if (usedToken !== api.token) return; // a newer token is already in use; that request will retry
  if (api.token) storeToken('');
  authBlocked = true;
  stream.stop();
  setConnection('auth', 'token required');
  setText(
    els.tokenMessage,
    usedToken
      ? 'The admin API refused that token (401 Unauthorized). Enter the admin token again.'
      : 'The admin API answered 401 Unauthorized. Enter the admin token (the server’s admin.token).',
  );
  if (els.tokenForm.hidden) {
    els.tokenForm.hidden = false;
    els.tokenInput.focus();
  }
}

els.tokenForm.addEventListener('submit', function (event) {
  event.preventDefault();
  const value = els.tokenInput.value.trim();
  if (!value) return;
  storeToken(value);
  els.tokenInput.value = '';
  els.tokenForm.hidden = true;
  authBlocked = false;
  start();
  const pending = pendingAction;
  pendingAction = null;
  // The operator already confirmed this action and is entering the token because of it;
  // replay it, unless it was long enough ago that the situation may have changed.
  if (pending && Date.now() - pending.at < PENDING_ACTION_TTL_MS) void sendAction(pending.name, pending.action);
});

els.forget.addEventListener('click', function () {
  storeToken('');
  start();
});

// --- HTTP ---------------------------------------------------------------------------------

const { request } = api;

function showNotice(text: string): void {
  setText(els.notice, text || '');
  els.notice.hidden = !text;
}

async function loadSnapshot(): Promise<void> {
  try {
    const res = await request('/admin/breakers');
    if (!res.ok) {
      const problem = await readBody(res);
      showNotice('GET /admin/breakers answered ' + res.status + (problem.detail ? ': ' + String(problem.detail) : '') + '.');
      return;
    }
    applySnapshot((await res.json()) as BreakersSnapshot);
  } catch (err) {
    if (!(err instanceof AuthRequired)) showNotice('Cannot reach the admin API: ' + (err instanceof Error && err.message ? err.message : String(err)) + '.');
  }
}

// --- event stream -------------------------------------------------------------------------

function setConnection(status: string, text: string): void {
  els.connection.dataset.status = status;
  setText(els.connection, text);
}

function handleEvent(event: SseEvent): void {
  let payload: unknown;
  try {
    payload = JSON.parse(event.data);
  } catch {
    return; // not JSON: nothing we know how to show
  }
  if (event.type === 'snapshot') applySnapshot(payload as BreakersSnapshot);
  else if (event.type === 'state') applyTransition(payload as BreakerTransition);
  else if (event.type === 'message-dead') void queuePanel.load();
}

const stream = new EventStreamConnection({
  api,
  onEvent: handleEvent,
  onStatus: setConnection,
  onUnauthorized,
  blocked: () => authBlocked,
});

// --- rendering ----------------------------------------------------------------------------

function upsertCard(breaker: CardData): void {
  let card = cards.get(breaker.name);
  if (!card) {
    card = buildCard(breaker.name, confirmAction);
    cards.set(breaker.name, card);
    els.grid.appendChild(card.root);
  }
  renderCard(card, breaker, now());
}

function applySnapshot(snapshot: BreakersSnapshot): void {
  if (!snapshot || !Array.isArray(snapshot.breakers)) return;
  const generated = toMs(snapshot.generatedAt);
  if (generated !== null) clockOffset = generated - Date.now();
  lastUpdateAt = Date.now();
  showNotice('');
  const names = new Set<string>();
  snapshot.breakers.forEach(function (breaker: AdminBreaker) {
    names.add(breaker.name);
    upsertCard(breaker);
  });
  for (const [name, card] of cards) {
    if (!names.has(name)) {
      card.root.remove();
      cards.delete(name);
    }
  }
  // Keep the server's (configuration) order; move nodes only when it changed, since moving
  // a node takes keyboard focus away from its buttons.
  const order = snapshot.breakers.map(function (b) {
    return (cards.get(b.name) as Card).root;
  });
  const current = Array.prototype.slice.call(els.grid.children) as Element[];
  if (order.some(function (node, i) { return current[i] !== node; })) order.forEach(function (node) { els.grid.appendChild(node); });
  els.gridEmpty.hidden = cards.size > 0;
  if (cards.size === 0) setText(els.gridEmpty, 'No upstreams are configured.');
  updateSummary();
  tick();
}

function applyTransition(t: BreakerTransition): void {
  if (!t || !t.name) return;
  const at = toMs(t.at);
  const key = t.name + '|' + (t.target ?? '') + '|' + at + '|' + t.from + '|' + t.to;
  if (seenTransitions.has(key)) return;
  seenTransitions.add(key);
  addTimelineEntry(els.timeline, els.timelineEmpty, t, at);
  const card = cards.get(t.name);
  // With several targets one target's change is not the upstream's: its row changes at once,
  // the upstream's state with the next snapshot (≤ 1 s).
  const targets = card?.data.targets ?? [];
  if (card && targets.length > 1) {
    upsertCard(Object.assign({}, card.data, { targets: targets.map((x) => (x.name === t.target ? Object.assign({}, x, { state: t.to, reason: t.reason ?? x.reason }) : x)) }));
    return;
  }
  if (card && (at === null || at >= (toMs(card.data.since) || 0))) {
    // Show the change at once; the next snapshot (≤ 1 s) fills in nextTrialAt and stats.
    const forced = t.reason === 'forced' && t.to !== 'half-open' ? (t.to as 'open' | 'closed') : t.reason === 'reset' ? null : card.data.forced;
    upsertCard(Object.assign({}, card.data, {
      state: t.to,
      since: at === null ? card.data.since : at,
      reason: t.reason ?? card.data.reason,
      forced: t.to === 'half-open' ? null : forced,
      nextTrialAt: t.to === 'open' ? card.data.nextTrialAt : null,
    }));
    updateSummary();
  }
}

function updateSummary(): void {
  const counts: Record<string, number> = { closed: 0, open: 0, 'half-open': 0 };
  let forced = 0;
  for (const card of cards.values()) {
    counts[card.data.state] = (counts[card.data.state] || 0) + 1;
    if (card.data.forced) forced += 1;
  }
  const bits = [cards.size + (cards.size === 1 ? ' upstream' : ' upstreams')];
  if (counts.open) bits.push(counts.open + ' open');
  if (counts['half-open']) bits.push(counts['half-open'] + ' half-open');
  if (forced) bits.push(forced + ' forced');
  if (cards.size && !counts.open && !counts['half-open']) bits.push('all closed');
  setText(els.summary, bits.join(' · '));
  els.summary.dataset.alert = counts.open ? 'open' : counts['half-open'] ? 'half-open' : '';
  document.title = (counts.open ? '(' + counts.open + ' open) ' : '') + 'Breakwater — breakers';
}

function tick(): void {
  const t = now();
  for (const card of cards.values()) updateClocks(card, t);
  if (lastUpdateAt !== null) {
    const age = Date.now() - lastUpdateAt;
    setText(els.updated, 'updated ' + (age < 2000 ? 'just now' : formatDuration(age) + ' ago'));
    document.body.classList.toggle('stale', age > STALE_MS);
  }
}

setInterval(tick, 1000);

// --- actions ------------------------------------------------------------------------------

function confirmAction(name: string, action: Action): void {
  const question =
    action === 'open'
      ? 'Force “' + name + '” OPEN?\n\nEvery call to it will be refused at once (CIRCUIT_OPEN) until it is closed or reset.'
      : action === 'close'
        ? 'Force “' + name + '” CLOSED?\n\nCalls will go through even if it keeps failing, until it is reset.'
        : 'Reset “' + name + '”?\n\nClears any forced state and its statistics; the breaker returns to automatic.';
  if (window.confirm(question)) void sendAction(name, action);
}

function setCardMessage(name: string, text: string, kind: string): void {
  const card = cards.get(name);
  if (!card) return;
  const message = card.parts.message as HTMLElement;
  setText(message, text);
  message.dataset.kind = kind || '';
}

function setBusy(name: string, busy: boolean): void {
  const card = cards.get(name);
  if (!card) return;
  card.buttons.forEach(function (button) {
    button.disabled = busy;
  });
  card.root.setAttribute('aria-busy', busy ? 'true' : 'false');
}

async function sendAction(name: string, action: Action): Promise<void> {
  setBusy(name, true);
  setCardMessage(name, ACTIONS[action].label + '…', 'pending');
  try {
    const res = await request('/admin/breakers/' + encodeURIComponent(name) + '/' + action, { method: 'POST' });
    if (res.ok) {
      const body = await readBody(res);
      const breaker = (body && body.breaker ? body.breaker : body) as CardData;
      if (breaker && breaker.name === name) upsertCard(breaker);
      updateSummary();
      setCardMessage(name, ACTIONS[action].done + ' at ' + formatClock(Date.now()) + '.', 'ok');
      return;
    }
    const problem = await readBody(res);
    if (res.status === 403) setCardMessage(name, 'forcing is disabled: no admin token configured', 'error');
    else setCardMessage(name, ACTIONS[action].label + ' failed (' + res.status + (problem.code ? ' ' + String(problem.code) : '') + ')' + (problem.detail ? ': ' + String(problem.detail) : '.'), 'error');
  } catch (err) {
    if (err instanceof AuthRequired) {
      pendingAction = { name: name, action: action, at: Date.now() };
      setCardMessage(name, 'Admin token required: enter it above.', 'error');
    } else {
      setCardMessage(name, ACTIONS[action].label + ' failed: cannot reach the admin API.', 'error');
    }
  } finally {
    setBusy(name, false);
  }
}

// --- start --------------------------------------------------------------------------------

const queuePanel = createQueuePanel({ request, readBody });

function start(): void {
  setConnection('connecting', 'connecting…');
  void loadSnapshot();
  void queuePanel.load();
  stream.start();
}

els.forget.hidden = !api.token;
start();
