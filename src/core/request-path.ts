/**
 * The path of a request target, without its query (it may carry secrets the caller did not
 * mean to echo or log) or fragment; `/` when there is none.
 */
export function pathOf(target: string | undefined): string {
  if (!target) return '/';
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}
