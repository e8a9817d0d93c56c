/** `baseUrl` without the slashes it ends with, by hand: a pattern such as /\/+$/ is quadratic on many slashes. */
export function trimBaseUrl(baseUrl: string): string {
  let end = baseUrl.length;
  while (end > 0 && baseUrl.charCodeAt(end - 1) === 47) end--;
  return baseUrl.slice(0, end);
}
