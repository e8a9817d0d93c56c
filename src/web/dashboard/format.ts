/* Formatting for the dashboard, pure. */

/** A time value from the API (ISO string or epoch ms) as epoch ms, or null. */
export function toMs(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** 12 s, 3 min 4 s, 25 min, 2 h 5 min, 3 d 2 h: precise while it is recent, short after. */
export function formatDuration(ms: number): string {
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
export function stateLabel(breaker: { state?: string | null; forced?: string | null }): string {
  const word = breaker.state === 'half-open' ? 'HALF-OPEN' : String(breaker.state || 'unknown').toUpperCase();
  return breaker.forced ? word + ' (forced)' : word;
}

/** Requests per second over the rolling window, one decimal. */
export function requestsPerSecond(stats: { requests: number; windowMs: number } | null | undefined): string {
  if (!stats || !(stats.windowMs > 0)) return '—';
  return (stats.requests / (stats.windowMs / 1000)).toFixed(1);
}

export function formatPercent(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(1) + ' %' : '—';
}

export function formatLatency(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  if (ms >= 1000) return (ms / 1000).toFixed(ms >= 10000 ? 0 : 1) + ' s';
  return (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + ' ms';
}

export const REASONS: Readonly<Record<string, string>> = {
  initial: 'state at start-up',
  failures: 'error percentage over the threshold',
  'trial-failed': 'the half-open trial call failed',
  'reset-timeout': 'reset timeout elapsed: one trial call may pass',
  'trial-succeeded': 'the half-open trial call succeeded',
  health: 'active health checks changed the upstream’s health',
  forced: 'forced by an operator',
  reset: 'reset by an operator',
};
