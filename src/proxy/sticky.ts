import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { StickySettings } from '../config/types';
import type { Target } from '../upstreams/target';
import type { Upstream } from '../upstreams/upstream';

/**
 * Sticky-session cookies (docs/failover.md). The value is `<target token>.<instance token>`:
 * hashes of the upstream and target names, and of the target's instance id when the cookie
 * was set ("0" when none was known). It names neither address nor host, and every gateway
 * replica with the same configuration computes the same tokens, so any replica sends a
 * session to the same target and notices the same restart.
 */
export class StickyCookies {
  private readonly tokens: readonly string[];
  /** The last instance id seen per target and its token, so a hash is computed once per restart. */
  private readonly instanceIds: (string | null)[];
  private readonly instanceTokens: string[];

  constructor(
    readonly upstream: Upstream,
    readonly settings: StickySettings,
  ) {
    this.tokens = upstream.targets.map((t) => token(`breakwater-sticky\u0000${upstream.name}\u0000${t.name}`, 16));
    this.instanceIds = upstream.targets.map(() => null);
    this.instanceTokens = upstream.targets.map(() => '0');
  }

  /** The pinned target and whether it restarted since the cookie was set; null for no or an unreadable cookie. */
  read(req: IncomingMessage): { target: Target; restarted: boolean } | null {
    const value = cookieValue(req.headers.cookie, this.settings.cookie);
    if (value === undefined) return null;
    const dot = value.indexOf('.');
    if (dot === -1) return null;
    const i = this.tokens.indexOf(value.slice(0, dot));
    if (i === -1) return null;
    const target = this.upstream.targets[i] as Target;
    const then = value.slice(dot + 1);
    const now = this.instanceToken(target);
    // Restarted: both instance ids are known and differ. A cookie set before the first health
    // answer carries none, and cannot tell.
    return { target, restarted: then !== '0' && now !== '0' && then !== now };
  }

  /** `Set-Cookie` pinning a session to `target` (Secure when the caller came over TLS). */
  setCookie(target: Target, secure: boolean): string {
    return `${this.settings.cookie}=${this.tokens[target.index] as string}.${this.instanceToken(target)}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  }

  /** `Set-Cookie` that clears the session cookie. */
  clearCookie(secure: boolean): string {
    return `${this.settings.cookie}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  }

  private instanceToken(target: Target): string {
    const id = target.health.instanceId;
    if (id === null) return '0';
    if (this.instanceIds[target.index] !== id) {
      this.instanceIds[target.index] = id;
      this.instanceTokens[target.index] = token(`breakwater-instance\u0000${id}`, 10);
    }
    return this.instanceTokens[target.index] as string;
  }
}

function token(input: string, length: number): string {
  return createHash('sha256').update(input).digest('base64url').slice(0, length);
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(name, from);
    if (at === -1) return undefined;
    const before = at === 0 ? ';' : header.charAt(at - 1);
    const after = header.charAt(at + name.length);
    if ((before === ';' || before === ' ') && after === '=') {
      const end = header.indexOf(';', at);
      return header.slice(at + name.length + 1, end === -1 ? undefined : end).trim();
    }
    from = at + name.length;
  }
  return undefined;
}

/** Whether the caller's connection is TLS (the cookie then gets `Secure`). */
export function isTls(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}
