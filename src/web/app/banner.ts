import type { ConnectionWatch } from '../../client/index.js';

/** What each upstream of the demo does for the user, for the degraded banner. */
const WHAT: Record<string, string> = {
  business: 'the loan system',
  'credit-bureau': 'credit reports',
  archive: 'the document archive',
  identity: 'login and session renewal',
};
const describe = (names: readonly string[]): string => names.map((n) => WHAT[n] ?? n).join(', ');

/**
 * The connection banner: online, degraded (naming what is lost) or offline (server functions
 * disabled). It shows what the last /status poll said, nothing guessed from navigator.onLine.
 */
export function renderBanner(el: HTMLElement, watch: ConnectionWatch, note: string, pollMs: number): void {
  const title = el.querySelector('#connection-title') as HTMLElement;
  const detail = el.querySelector('#connection-detail') as HTMLElement;
  el.dataset.state = watch.state;
  el.dataset.lost = watch.lost.join(' ');
  const seconds = `${Math.round(pollMs / 100) / 10} s`;
  if (watch.state === 'offline') {
    title.textContent = 'Offline: connection to the loan system lost.';
    const what = watch.status === null || watch.lost.length === 0 ? 'The gateway does not answer.' : `Lost: ${describe(watch.lost)}.`;
    detail.textContent = `${what} Save and Print are disabled; your case is kept on this device. Checking every ${seconds}.`;
  } else if (watch.state === 'degraded') {
    title.textContent = 'Degraded:';
    detail.textContent = `${describe(watch.lost)} unavailable right now. Saving and printing still work.`;
  } else {
    title.textContent = 'Online.';
    detail.textContent = note || 'Connected to the loan system.';
  }
}
