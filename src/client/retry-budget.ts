/** Options of the retry budget shared by every request of one client. */
export interface BudgetOptions {
  /** Retries the budget holds when full (and at start). Default 10. */
  tokens?: number;
  /** Tokens one successful answer puts back (up to `tokens`). Default 0.1. */
  perSuccess?: number;
}

export interface RetryBudget {
  /** Tokens left; a retry needs one whole token. */
  readonly available: number;
  /** Takes one token for a retry; false (and nothing taken) when the budget is spent. */
  take(): boolean;
  /** A successful answer refills the budget by `perSuccess`. */
  success(): void;
}

/**
 * A token bucket refilled by successes, not by time: under a total outage nothing succeeds,
 * so after `tokens` retries in all every caller fails at its first answer and an outage does
 * not become a retry storm. Once answers succeed again, ten of them (by default) buy one retry.
 */
export function createRetryBudget({ tokens = 10, perSuccess = 0.1 }: BudgetOptions = {}): RetryBudget {
  if (!(tokens >= 0) || !(perSuccess >= 0)) throw new RangeError('budget.tokens and budget.perSuccess must be numbers >= 0');
  let available = tokens;
  return {
    get available() {
      return available;
    },
    take() {
      if (available < 1) return false;
      available -= 1;
      return true;
    },
    success() {
      // Rounded, so that ten successes of 0.1 make a whole token, not 0.9999999999999999.
      available = Math.min(tokens, Math.round((available + perSuccess) * 1e6) / 1e6);
    },
  };
}
