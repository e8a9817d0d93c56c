/*
 * Breakwater operator dashboard (SPEC §7 GET /dashboard).
 *
 * A classic script with no build step and no dependencies. The top half is pure code (the
 * SSE parser and the formatters), which Node can require for unit tests; the bottom half
 * runs only in a browser, when there is a `document`.
 *
 * The event stream is read with fetch() rather than EventSource because EventSource cannot
 * send the `Authorization: Bearer` header the admin listener needs once a token is set.
 */
(function () {
  'use strict';

  // ---------------------------------------------------------------------------------------
  // Server-Sent Events parser (WHATWG HTML "event stream interpretation"), pure.
  // ---------------------------------------------------------------------------------------

  /** The parser's state between chunks: an unterminated line and the event being built. */
  function createSseState() {
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
  function parseSseChunk(state, chunk) {
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
    const events = [];
    let pos = 0;
    for (;;) {
      const lf = buffer.indexOf('\n', pos);
      const cr = buffer.indexOf('\r', pos);
      if (lf === -1 && cr === -1) break;
      let end;
      let next;
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

  // ---------------------------------------------------------------------------------------
  // Formatting, pure.
  // ---------------------------------------------------------------------------------------

  /** A time value from the API (ISO string or epoch ms) as epoch ms, or null. */
  function toMs(value) {
    if (value === null || value === undefined || value === '') return null;
    const ms = typeof value === 'number' ? value : Date.parse(value);
    return Number.isFinite(ms) ? ms : null;
  }

  /** 12 s, 3 min 4 s, 25 min, 2 h 5 min, 3 d 2 h: precise while it is recent, short after. */
  function formatDuration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 10) return m + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
    if (m < 60) return m + ' min';
    const h = Math.floor(m / 60);
    if (h < 24) return h + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
    const d = Math.floor(h / 24);
    return d + ' d' + (h % 24 ? ' ' + (h % 24) + ' h' : '');
  }

  /** CLOSED / OPEN / HALF-OPEN, with " (forced)" when an operator holds it there. */
  function stateLabel(breaker) {
    const word = breaker.state === 'half-open' ? 'HALF-OPEN' : String(breaker.state || 'unknown').toUpperCase();
    return breaker.forced ? word + ' (forced)' : word;
  }

  /** Requests per second over the rolling window, one decimal. */
  function requestsPerSecond(stats) {
    if (!stats || !(stats.windowMs > 0)) return '—';
    return (stats.requests / (stats.windowMs / 1000)).toFixed(1);
  }

  function formatPercent(value) {
    return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(1) + ' %' : '—';
  }

  function formatLatency(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
    if (ms >= 1000) return (ms / 1000).toFixed(ms >= 10000 ? 0 : 1) + ' s';
    return (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + ' ms';
  }

  const REASONS = {
    initial: 'state at start-up',
    failures: 'error percentage over the threshold',
    'trial-failed': 'the half-open trial call failed',
    'reset-timeout': 'reset timeout elapsed: one trial call may pass',
    'trial-succeeded': 'the half-open trial call succeeded',
    health: 'active health checks changed the upstream’s health',
    forced: 'forced by an operator',
    reset: 'reset by an operator',
  };

  const api = {
    createSseState: createSseState,
    parseSseChunk: parseSseChunk,
    toMs: toMs,
    formatDuration: formatDuration,
    stateLabel: stateLabel,
    requestsPerSecond: requestsPerSecond,
    formatPercent: formatPercent,
    formatLatency: formatLatency,
  };

  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  if (typeof document === 'undefined' || typeof window === 'undefined') return;

  // ---------------------------------------------------------------------------------------
  // Browser.
  // ---------------------------------------------------------------------------------------

  const TOKEN_KEY = 'breakwater.adminToken';
  const STREAM_IDLE_MS = 15000; // snapshots come every second; silence this long means a dead stream
  const STALE_MS = 5000;
  const MAX_BACKOFF_MS = 30000;
  const PENDING_ACTION_TTL_MS = 120000;
  const MAX_TRANSITIONS = 50;
  const ACTIONS = {
    open: { label: 'Force open', done: 'Forced open' },
    close: { label: 'Force close', done: 'Forced closed' },
    reset: { label: 'Reset', done: 'Reset' },
  };

  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium', hourCycle: 'h23' });

  function AuthRequired() {}

  function $(id) {
    return document.getElementById(id);
  }

  /** Tiny element builder; text only, never HTML, so upstream names cannot inject markup. */
  function h(tag, attrs, children) {
    const el = document.createElement(tag);
    for (const key in attrs || {}) {
      if (key === 'text') el.textContent = attrs[key];
      else if (key === 'class') el.className = attrs[key];
      else if (attrs[key] !== null && attrs[key] !== undefined) el.setAttribute(key, attrs[key]);
    }
    for (const child of children || []) {
      if (typeof child === 'string') el.appendChild(document.createTextNode(child));
      else if (child) el.appendChild(child);
    }
    return el;
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function formatClock(ms) {
    const d = new Date(ms);
    return new Date().toDateString() === d.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
  }

  const els = {
    connection: $('connection'),
    updated: $('updated'),
    summary: $('summary'),
    forget: $('forget-token'),
    tokenForm: $('token-form'),
    tokenInput: $('token-input'),
    tokenMessage: $('token-message'),
    notice: $('notice'),
    grid: $('grid'),
    gridEmpty: $('grid-empty'),
    timeline: $('timeline'),
    timelineEmpty: $('timeline-empty'),
  };

  const cards = new Map(); // name → { root, parts, data }
  const seenTransitions = new Set();
  let token = readToken();
  let authBlocked = false;
  let clockOffset = 0; // server time − browser time, from snapshot.generatedAt
  let lastUpdateAt = null;
  let streamCtl = null;
  let reconnectTimer = null;
  let attempt = 0;
  let pendingAction = null;
  let cardSeq = 0;

  function now() {
    return Date.now() + clockOffset;
  }

  // --- token ------------------------------------------------------------------------------

  function readToken() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  }

  function storeToken(value) {
    token = value;
    try {
      if (value) window.sessionStorage.setItem(TOKEN_KEY, value);
      else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* storage disabled: keep it in memory for this page */
    }
    els.forget.hidden = !value;
  }

  /** A 401 arrived for a request sent with `usedToken`: stop, and ask for a token. */
  function onUnauthorized(usedToken) {
    if (usedToken !== token) return; // a newer token is already in use; that request will retry
    if (token) storeToken('');
    authBlocked = true;
    stopStream();
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
    if (pending && Date.now() - pending.at < PENDING_ACTION_TTL_MS) sendAction(pending.name, pending.action);
  });

  els.forget.addEventListener('click', function () {
    storeToken('');
    start();
  });

  // --- HTTP ---------------------------------------------------------------------------------

  function authHeaders(accept) {
    const headers = { Accept: accept };
    if (token) headers.Authorization = 'Bearer ' + token;
    return headers;
  }

  async function request(path, init) {
    const usedToken = token;
    const res = await fetch(path, Object.assign({ cache: 'no-store', credentials: 'same-origin' }, init, { headers: authHeaders('application/json') }));
    if (res.status === 401) {
      onUnauthorized(usedToken);
      throw new AuthRequired();
    }
    return res;
  }

  async function readProblem(res) {
    try {
      return await res.json();
    } catch {
      return {};
    }
  }

  function showNotice(text) {
    setText(els.notice, text || '');
    els.notice.hidden = !text;
  }

  async function loadSnapshot() {
    try {
      const res = await request('/admin/breakers');
      if (!res.ok) {
        const problem = await readProblem(res);
        showNotice('GET /admin/breakers answered ' + res.status + (problem.detail ? ': ' + problem.detail : '') + '.');
        return;
      }
      applySnapshot(await res.json());
    } catch (err) {
      if (!(err instanceof AuthRequired)) showNotice('Cannot reach the admin API: ' + (err && err.message ? err.message : err) + '.');
    }
  }

  // --- event stream -------------------------------------------------------------------------

  function setConnection(status, text) {
    els.connection.dataset.status = status;
    setText(els.connection, text);
  }

  function stopStream() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (streamCtl) streamCtl.abort();
    streamCtl = null;
  }

  async function connectStream() {
    stopStream();
    const ctl = new AbortController();
    streamCtl = ctl;
    const usedToken = token;
    let sse = createSseState();
    let watchdog = null;
    const kick = function () {
      clearTimeout(watchdog);
      watchdog = setTimeout(function () {
        ctl.abort();
      }, STREAM_IDLE_MS);
    };
    try {
      kick();
      const res = await fetch('/admin/breakers/stream', {
        headers: authHeaders('text/event-stream'),
        cache: 'no-store',
        credentials: 'same-origin',
        signal: ctl.signal,
      });
      if (res.status === 401) {
        onUnauthorized(usedToken);
        return;
      }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setConnection('live', 'live');
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        kick();
        const parsed = parseSseChunk(sse, decoder.decode(chunk.value, { stream: true }));
        sse = parsed.state;
        for (const event of parsed.events) {
          attempt = 0; // only a stream that delivers events counts as a recovery
          handleEvent(event);
        }
      }
    } catch {
      // network error, abort by the watchdog, or abort by a newer connection: decided below
    } finally {
      clearTimeout(watchdog);
    }
    if (ctl !== streamCtl || authBlocked) return; // superseded or waiting for a token
    scheduleReconnect(sse.retry);
  }

  /** Exponential backoff with jitter, 1 s → 30 s, never below the server's `retry:`. */
  function scheduleReconnect(retryMs) {
    const base = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempt));
    const delay = Math.max(retryMs || 0, Math.round(base / 2 + (Math.random() * base) / 2));
    attempt += 1;
    setConnection('reconnecting', 'reconnecting…');
    streamCtl = null;
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connectStream, delay);
  }

  function handleEvent(event) {
    let payload;
    try {
      payload = JSON.parse(event.data);
    } catch {
      return; // not JSON: nothing we know how to show
    }
    if (event.type === 'snapshot') applySnapshot(payload);
    else if (event.type === 'state') applyTransition(payload);
  }

  window.addEventListener('online', function () {
    if (reconnectTimer && !authBlocked) connectStream();
  });

  // --- rendering ----------------------------------------------------------------------------

  function applySnapshot(snapshot) {
    if (!snapshot || !Array.isArray(snapshot.breakers)) return;
    const generated = toMs(snapshot.generatedAt);
    if (generated !== null) clockOffset = generated - Date.now();
    lastUpdateAt = Date.now();
    showNotice('');
    const names = new Set();
    snapshot.breakers.forEach(function (breaker) {
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
      return cards.get(b.name).root;
    });
    const current = Array.prototype.slice.call(els.grid.children);
    if (order.some(function (node, i) { return current[i] !== node; })) order.forEach(function (node) { els.grid.appendChild(node); });
    els.gridEmpty.hidden = cards.size > 0;
    if (cards.size === 0) setText(els.gridEmpty, 'No upstreams are configured.');
    updateSummary();
    tick();
  }

  function applyTransition(t) {
    if (!t || !t.name) return;
    const at = toMs(t.at);
    const key = t.name + '|' + (t.target || '') + '|' + at + '|' + t.from + '|' + t.to;
    if (seenTransitions.has(key)) return;
    seenTransitions.add(key);
    addTimelineEntry(t, at);
    const card = cards.get(t.name);
    // With several targets, one target's change is not the upstream's: the next snapshot
    // (≤ 1 s) shows both; the target's row changes at once.
    const targets = card && card.data.targets ? card.data.targets : [];
    if (card && targets.length > 1) {
      upsertCard(Object.assign({}, card.data, {
        targets: targets.map(function (x) { return x.name === t.target ? Object.assign({}, x, { state: t.to, reason: t.reason }) : x; }),
      }));
      return;
    }
    if (card && (at === null || at >= (toMs(card.data.since) || 0))) {
      // Show the change at once; the next snapshot (≤ 1 s) fills in nextTrialAt and stats.
      const forced = t.reason === 'forced' && t.to !== 'half-open' ? t.to : t.reason === 'reset' ? null : card.data.forced;
      upsertCard(Object.assign({}, card.data, {
        state: t.to,
        since: at === null ? card.data.since : at,
        reason: t.reason,
        forced: t.to === 'half-open' ? null : forced,
        nextTrialAt: t.to === 'open' ? card.data.nextTrialAt : null,
      }));
      updateSummary();
    }
  }

  function addTimelineEntry(t, at) {
    const when = at === null ? Date.now() : at;
    const li = h('li', { 'data-name': t.name, 'data-from': t.from, 'data-to': t.to, 'data-reason': t.reason }, [
      h('time', { datetime: new Date(when).toISOString(), title: dateTimeFmt.format(new Date(when)), text: formatClock(when) }),
      ' ',
      h('span', { class: 'tl-name', text: t.name }),
      ' ',
      h('span', { class: 'tl-change' }, [
        h('span', { class: 'pill pill-' + t.from, text: stateLabel({ state: t.from }) }),
        ' ',
        h('span', { class: 'arrow', role: 'img', 'aria-label': 'to', text: '→' }),
        ' ',
        h('span', { class: 'pill pill-' + t.to, text: stateLabel({ state: t.to }) }),
      ]),
      ' ',
      h('span', { class: 'tl-reason', title: REASONS[t.reason] || '', text: t.reason || '' }),
    ]);
    // Newest first: insert before the first entry that is older.
    let before = els.timeline.firstChild;
    while (before && Number(before.dataset.at) > when) before = before.nextSibling;
    li.dataset.at = String(when);
    els.timeline.insertBefore(li, before);
    while (els.timeline.children.length > MAX_TRANSITIONS) els.timeline.lastChild.remove();
    els.timelineEmpty.hidden = true;
  }

  function buildCard(name) {
    const id = 'up-' + ++cardSeq;
    const parts = {};
    const metric = function (label, role) {
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
    parts.buttons = Object.keys(ACTIONS).map(function (action) {
      const button = h('button', {
        type: 'button',
        class: 'btn btn-' + action,
        'data-action': action,
        'aria-describedby': id,
        text: ACTIONS[action].label,
      });
      button.addEventListener('click', function () {
        confirmAction(name, action);
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
      h('div', { class: 'actions' }, parts.buttons),
      parts.message,
    ]);
    return { root: root, parts: parts, data: null };
  }

  function upsertCard(breaker) {
    let card = cards.get(breaker.name);
    if (!card) {
      card = buildCard(breaker.name);
      cards.set(breaker.name, card);
      els.grid.appendChild(card.root);
    }
    card.data = breaker;
    const p = card.parts;
    const root = card.root;
    root.dataset.state = breaker.state;
    root.dataset.forced = breaker.forced ? breaker.forced : '';
    setText(p.state, stateLabel(breaker));
    p.state.className = 'state pill pill-' + breaker.state + (breaker.forced ? ' forced' : '');
    const reason = breaker.reason || '';
    setText(p.reason, reason ? ' · ' + reason : '');
    p.reason.title = REASONS[reason] || '';
    const since = toMs(breaker.since);
    p.since.title = since === null ? '' : 'since ' + dateTimeFmt.format(new Date(since));

    p.forcedNote.hidden = !breaker.forced;
    setText(
      p.forcedNote,
      breaker.forced === 'open'
        ? 'Held open by an operator: every call is refused. Reset to return to automatic.'
        : breaker.forced === 'closed'
          ? 'Held closed by an operator: failures will not open it. Reset to return to automatic.'
          : '',
    );

    const stats = breaker.stats || {};
    const latency = stats.latencyMs || {};
    const hasTraffic = stats.requests > 0;
    setText(p['error-rate'], hasTraffic ? formatPercent(stats.errorPercentage) : '—');
    p['error-rate'].className = hasTraffic && stats.errorPercentage > 0 ? 'warn' : '';
    setText(p.rps, requestsPerSecond(stats));
    setText(p.p99, hasTraffic ? formatLatency(latency.p99) : '—');
    p.p99.title = hasTraffic ? 'p50 ' + formatLatency(latency.p50) + ' · p95 ' + formatLatency(latency.p95) + ' · p99 ' + formatLatency(latency.p99) : '';
    const windowS = stats.windowMs ? Math.round(stats.windowMs / 1000) + ' s' : 'window';
    setText(
      p.counts,
      typeof stats.requests === 'number'
        ? 'Last ' + windowS + ': ' + stats.requests + ' req · ' + (stats.failures || 0) + ' failed · ' + (stats.timeouts || 0) + ' timed out · ' + (stats.rejections || 0) + ' rejected'
        : '',
    );

    renderTargets(p.targets, breaker.targets || []);

    const health = breaker.health || {};
    p.health.dataset.health = health.state || 'unknown';
    const healthBits = [];
    if (toMs(health.lastCheckAt) !== null) healthBits.push('last check ' + formatClock(toMs(health.lastCheckAt)));
    if (health.instanceId) healthBits.push('instance ' + health.instanceId);
    p.health.title = healthBits.join(' · ');
    p.restart.title = toMs(health.restartedAt) !== null ? dateTimeFmt.format(new Date(toMs(health.restartedAt))) : '';
    const trial = toMs(breaker.nextTrialAt);
    p['next-trial'].title = trial === null ? '' : dateTimeFmt.format(new Date(trial));
    updateClocks(card);
  }

  /** One row per target: its name, breaker state and health, requests in flight. */
  function renderTargets(list, targets) {
    list.hidden = targets.length === 0;
    while (list.firstChild) list.removeChild(list.firstChild);
    targets.forEach(function (t) {
      const health = (t.health && t.health.state) || 'unknown';
      list.appendChild(h('li', { class: 'target', 'data-target': t.name, 'data-state': t.state }, [
        h('span', { class: 'target-name', text: t.name }),
        h('span', { class: 'state pill pill-' + t.state + (t.forced ? ' forced' : ''), text: stateLabel(t) }),
        h('span', { class: 'target-health', 'data-health': health, text: health.toUpperCase() + (typeof t.inFlight === 'number' ? ' · ' + t.inFlight + ' in flight' : '') }),
      ]));
    });
  }

  /** The parts of a card that depend on the current time; run every second. */
  function updateClocks(card) {
    const b = card.data;
    const p = card.parts;
    const t = now();
    const since = toMs(b.since);
    setText(p.since, since === null ? '' : 'for ' + formatDuration(t - since));

    const health = b.health || {};
    const healthSince = toMs(health.since);
    const healthWord = String(health.state || 'unknown').toUpperCase();
    setText(p.health, healthWord + (healthSince !== null && health.state !== 'unknown' ? ' for ' + formatDuration(t - healthSince) : ''));

    const restarted = toMs(health.restartedAt);
    setText(p.restart, restarted === null ? '—' : formatDuration(t - restarted) + ' ago');

    const trial = toMs(b.nextTrialAt);
    let trialText = '—';
    if (b.state === 'open') {
      if (trial !== null) trialText = trial > t ? 'in ' + formatDuration(trial - t + 999) : 'due now';
      else if (b.forced === 'open') trialText = 'none (forced)';
    }
    setText(p['next-trial'], trialText);
  }

  function updateSummary() {
    const counts = { closed: 0, open: 0, 'half-open': 0 };
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

  function tick() {
    for (const card of cards.values()) updateClocks(card);
    if (lastUpdateAt !== null) {
      const age = Date.now() - lastUpdateAt;
      setText(els.updated, 'updated ' + (age < 2000 ? 'just now' : formatDuration(age) + ' ago'));
      document.body.classList.toggle('stale', age > STALE_MS);
    }
  }

  setInterval(tick, 1000);

  // --- actions ------------------------------------------------------------------------------

  function confirmAction(name, action) {
    const question =
      action === 'open'
        ? 'Force “' + name + '” OPEN?\n\nEvery call to it will be refused at once (CIRCUIT_OPEN) until it is closed or reset.'
        : action === 'close'
          ? 'Force “' + name + '” CLOSED?\n\nCalls will go through even if it keeps failing, until it is reset.'
          : 'Reset “' + name + '”?\n\nClears any forced state and its statistics; the breaker returns to automatic.';
    if (window.confirm(question)) sendAction(name, action);
  }

  function setCardMessage(name, text, kind) {
    const card = cards.get(name);
    if (!card) return;
    setText(card.parts.message, text);
    card.parts.message.dataset.kind = kind || '';
  }

  function setBusy(name, busy) {
    const card = cards.get(name);
    if (!card) return;
    card.parts.buttons.forEach(function (button) {
      button.disabled = busy;
    });
    card.root.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  async function sendAction(name, action) {
    setBusy(name, true);
    setCardMessage(name, ACTIONS[action].label + '…', 'pending');
    try {
      const res = await request('/admin/breakers/' + encodeURIComponent(name) + '/' + action, { method: 'POST' });
      if (res.ok) {
        const body = await readProblem(res);
        const breaker = body && body.breaker ? body.breaker : body;
        if (breaker && breaker.name === name) upsertCard(breaker);
        updateSummary();
        setCardMessage(name, ACTIONS[action].done + ' at ' + formatClock(Date.now()) + '.', 'ok');
        return;
      }
      const problem = await readProblem(res);
      if (res.status === 403) setCardMessage(name, 'forcing is disabled: no admin token configured', 'error');
      else setCardMessage(name, ACTIONS[action].label + ' failed (' + res.status + (problem.code ? ' ' + problem.code : '') + ')' + (problem.detail ? ': ' + problem.detail : '.'), 'error');
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

  function start() {
    attempt = 0;
    setConnection('connecting', 'connecting…');
    loadSnapshot();
    connectStream();
  }

  els.forget.hidden = !token;
  start();
})();
