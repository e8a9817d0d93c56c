/* Small DOM helpers for the dashboard. */

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

type Attrs = Record<string, string | null | undefined>;

/** Tiny element builder; text only, never HTML, so upstream names cannot inject markup. */
export function h(tag: string, attrs?: Attrs | null, children?: Array<Node | string | null | undefined>): HTMLElement {
  const el = document.createElement(tag);
  for (const key in attrs || {}) {
    const value = (attrs as Attrs)[key];
    if (key === 'text') el.textContent = value ?? '';
    else if (key === 'class') el.className = value ?? '';
    else if (value !== null && value !== undefined) el.setAttribute(key, value);
  }
  for (const child of children || []) {
    if (typeof child === 'string') el.appendChild(document.createTextNode(child));
    else if (child) el.appendChild(child);
  }
  return el;
}

export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
export const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium', hourCycle: 'h23' });

export function formatClock(ms: number): string {
  const d = new Date(ms);
  return new Date().toDateString() === d.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}
