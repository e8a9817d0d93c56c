/**
 * An Error that captures no stack trace. For answers and control flow on the request path
 * (problems sent to callers, the breaker's refusals and outcomes): they are never logged with
 * a stack (an internal error's `cause` keeps its own), and capturing one costs more than the
 * rest of an open-breaker refusal.
 */
export class StacklessError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options);
    Error.stackTraceLimit = limit;
  }
}
