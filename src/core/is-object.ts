/** A plain object (not null, not an array): what a configuration mapping or a JSON object parses to. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
