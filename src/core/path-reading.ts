/**
 * How common upstream frameworks read a request path, when that differs from its raw form:
 * percent-encoded unreserved characters decoded (RFC 3986 §6.2.2.2: `%6c` is `l`), `;…`
 * segment parameters removed (servlet containers such as Tomcat and Jetty), and case folded
 * (ASP.NET Core and IIS match routes case-insensitively). The gateway matches routes on the
 * raw path; a path whose reading would match another route is refused (SECURITY.md, "Paths
 * an upstream reads differently").
 * Returns null when the path reads as itself, which is the common case and costs one scan.
 */
export function upstreamReading(path: string): string | null {
  if (!NEEDS_READING.test(path)) return null;
  let out = '';
  let inParameter = false;
  for (let i = 0; i < path.length; i++) {
    let c = path[i] as string;
    if (c === '/') inParameter = false;
    else if (c === ';') inParameter = true;
    if (inParameter) continue;
    if (c === '%' && i + 2 < path.length && isHex(path.charCodeAt(i + 1)) && isHex(path.charCodeAt(i + 2))) {
      const decoded = String.fromCharCode(parseInt(path.slice(i + 1, i + 3), 16));
      if (isUnreserved(decoded.charCodeAt(0))) {
        c = decoded;
        i += 2;
      } else {
        // Other encodings stay encoded; only the hex digits' case is folded below.
        c = path.slice(i, i + 3);
        i += 2;
      }
    }
    out += c;
  }
  return out.toLowerCase();
}

/** A character that can make a path read differently: `%`, `;` or an upper-case letter. */
const NEEDS_READING = /[%;A-Z]/;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 95 || c === 126;
}
