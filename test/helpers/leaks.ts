/**
 * Leak checks on what keeps the process alive: `process.getActiveResourcesInfo()` lists every
 * ref'd handle and timer (sockets, servers, pending timeouts), so a socket the gateway forgot
 * to destroy or a timer it forgot to clear shows up as one more entry than before.
 * Unref'd handles (a keep-alive agent's idle sockets) do not show; they cannot hold a process.
 */

export type ResourceCounts = Record<string, number>;

/** The kinds a gateway exchange can leave behind. */
const WATCHED = ['TCPSocketWrap', 'TCPServerWrap', 'TLSWrap', 'Timeout', 'PipeWrap', 'ProcessWrap'];

export function activeResources(): ResourceCounts {
  const counts: ResourceCounts = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (WATCHED.includes(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/** Kinds whose count is above `baseline + allowance`, with how many too many; {} when none. */
export function excess(now: ResourceCounts, baseline: ResourceCounts, allowance: ResourceCounts = {}): ResourceCounts {
  const over: ResourceCounts = {};
  for (const [kind, n] of Object.entries(now)) {
    const extra = n - (baseline[kind] ?? 0) - (allowance[kind] ?? 0);
    if (extra > 0) over[kind] = extra;
  }
  return over;
}

/**
 * Polls until nothing exceeds `baseline + allowance` (sockets take a tick or two to close
 * after the peer's FIN) and returns the excess then: `{}` means no leak. Never throws, so a
 * test can `expect(await settledExcess(...)).toEqual({})` and see what leaked.
 */
export async function settledExcess(baseline: ResourceCounts, allowance: ResourceCounts = {}, timeoutMs = 2000): Promise<ResourceCounts> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const over = excess(activeResources(), baseline, allowance);
    if (Object.keys(over).length === 0 || Date.now() > deadline) return over;
    await new Promise((r) => setTimeout(r, 20));
  }
}
