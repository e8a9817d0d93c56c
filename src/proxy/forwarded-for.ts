import { BlockList, isIPv4 } from 'node:net';

/** Decides whether a peer's own X-Forwarded-* headers may be believed (SPEC §5). */
export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    this.empty = cidrs.length === 0;
    for (const entry of cidrs) {
      const [addr = '', bits] = entry.split('/');
      const type = isIPv4(addr) ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(bits), type);
    }
  }

  /** True when `address` (as Node reports the peer, possibly IPv4-mapped IPv6) is trusted. */
  trusts(address: string | undefined): boolean {
    if (this.empty || !address) return false;
    const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
    return isIPv4(v4) ? this.list.check(v4, 'ipv4') : this.list.check(address, 'ipv6');
  }
}
