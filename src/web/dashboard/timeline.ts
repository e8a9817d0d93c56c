/* The dashboard's timeline of breaker transitions: newest first, at most MAX_TRANSITIONS. */
import type { BreakerTransition } from '../../client/index.js';
import { dateTimeFmt, formatClock, h } from './dom';
import { REASONS, stateLabel } from './format';

const MAX_TRANSITIONS = 50;

/** Adds one transition at its place in time (`at`: when it happened, null: now). */
export function addTimelineEntry(timeline: HTMLElement, empty: HTMLElement, t: BreakerTransition, at: number | null): void {
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
    h('span', { class: 'tl-reason', title: REASONS[t.reason ?? ''] || '', text: t.reason || '' }),
  ]);
  // Newest first: insert before the first entry that is older.
  let before = timeline.firstChild as HTMLElement | null;
  while (before && Number(before.dataset.at) > when) before = before.nextSibling as HTMLElement | null;
  li.dataset.at = String(when);
  timeline.insertBefore(li, before);
  while (timeline.children.length > MAX_TRANSITIONS) timeline.lastElementChild?.remove();
  empty.hidden = true;
}
