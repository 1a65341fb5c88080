// Host names and `host[:port]` authorities as HTTP carries them (the Host
// header, SWARMQ_ALLOWED_HOSTS entries, SWARMQ_HOST). Pure.
import { isIP } from 'node:net';

export interface Authority {
  /** Lower case; an IPv6 address without its brackets. */
  hostname: string;
  port?: number;
}

// A name or IPv4 address, or a bracketed IPv6 address, then an optional port.
// Strict on purpose: anything else in a Host header is not a browser's doing.
const AUTHORITY = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+))(?::([0-9]{1,5}))?$/;

/** `host[:port]` → its parts; undefined when it is not one (an empty port, a port over 65535, a stray character). */
export function parseAuthority(text: string): Authority | undefined {
  const m = AUTHORITY.exec(text.trim());
  if (!m) return undefined;
  const v6 = m[1];
  if (v6 !== undefined && isIP(v6) !== 6) return undefined;
  const hostname = (v6 ?? m[2]!).toLowerCase();
  if (m[3] === undefined) return { hostname };
  const port = Number(m[3]);
  return port <= 65535 ? { hostname, port } : undefined;
}

function bare(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

export function isIpLiteral(host: string): boolean {
  return isIP(bare(host)) !== 0;
}

/** localhost, ::1 or 127.x.x.x: only this machine reaches it. */
export function isLoopback(host: string): boolean {
  const h = bare(host);
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** 0.0.0.0 or ::: every interface, so no one address is "the" address. */
export function isUnspecified(host: string): boolean {
  const h = bare(host);
  return h === '0.0.0.0' || (isIP(h) === 6 && /^[0:]+$/.test(h));
}

/** An allow-list entry matches a name on any port, or `name:port` on that port only (no port in Host is 80 or 443). */
export function entryMatches(entry: Authority, given: Authority, defaultPort: number): boolean {
  return entry.hostname === given.hostname && (entry.port === undefined || entry.port === (given.port ?? defaultPort));
}
