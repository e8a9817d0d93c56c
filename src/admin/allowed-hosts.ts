import { isIP } from 'node:net';

/**
 * The admin listener answers only requests whose `Host` names it: its own address (the one
 * the connection came in on), `localhost`, or a name in `admin.allowedHosts`. A page on any
 * other site whose name an attacker points at 127.0.0.1 (DNS rebinding) sends its own name
 * as Host, and so cannot read /metrics or /admin/breakers from a browser on this machine.
 */
export class AllowedHosts {
  private readonly names: ReadonlySet<string>;

  constructor(allowedHosts: readonly string[]) {
    this.names = new Set(['localhost', ...allowedHosts.map((h) => h.toLowerCase())]);
  }

  /** Whether a request with this Host header, arriving on `localAddress`, may be answered. */
  allows(host: string | undefined, localAddress: string | undefined): boolean {
    // Only HTTP/1.0 may come without Host (the Host check refuses it in 1.1): no browser does.
    if (host === undefined) return true;
    const name = hostnameOf(host);
    if (this.names.has(name)) return true;
    return isIP(name) !== 0 && localAddress !== undefined && sameAddress(name, localAddress);
  }
}

/** The host name of a Host value, without port or IPv6 brackets, lower case. */
function hostnameOf(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return (end === -1 ? host : host.slice(1, end)).toLowerCase();
  }
  const colon = host.indexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

/** Node reports an IPv4 peer on a dual-stack socket as `::ffff:a.b.c.d`. */
function sameAddress(a: string, b: string): boolean {
  const plain = (x: string): string => (x.startsWith('::ffff:') ? x.slice(7) : x).toLowerCase();
  return plain(a) === plain(b);
}
