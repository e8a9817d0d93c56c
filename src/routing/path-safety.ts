/**
 * Checks a request target before any route is matched. A path that could be read
 * differently by the gateway and an upstream (dot-segments, encoded or backslash
 * separators, empty segments) is refused outright rather than normalised: normalising
 * is exactly where prefix-escape bugs come from. Returns a reason, or null when safe.
 */
export function unsafePathReason(target: string): string | null {
  if (target.charCodeAt(0) !== 47 /* / */) return 'the request target must be a path (origin-form)';
  // A fragment is the client's own business (RFC 9110 §4.2.4): never part of a request target.
  if (target.includes('#')) return 'a fragment (#) is not allowed in the request target';
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  // Fast path: the common case has none of the characters that need a closer look.
  if (!/[%.\\/]{2}|%|\\|[^\x21-\x7e]/.test(path) && !path.endsWith('/.')) return null;
  if (/[^\x21-\x7e]/.test(target)) return 'the request target contains characters that must be percent-encoded';
  if (path.includes('\\')) return 'backslashes are not allowed in paths';
  if (path.includes('//')) return 'empty path segments are not allowed';
  if (/%(?![0-9A-Fa-f]{2})/.test(target)) return 'invalid percent-encoding';
  if (/%2f|%5c/i.test(path)) return 'encoded slashes are not allowed in paths';
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return 'percent-encoding is not valid UTF-8';
  }
  // `..;x` is a dot-segment to servlet containers (Tomcat, Jetty strip path parameters first).
  if (decoded.split('/').some((s) => { const d = s.split(';', 1)[0]; return d === '.' || d === '..'; })) return 'dot-segments are not allowed in paths';
  if (/%00/.test(path)) return 'NUL is not allowed in paths';
  return null;
}
