// What a web page must not be able to do to a swarm it can reach through the
// browser of someone on the same machine or network, token or not:
//
// - DNS rebinding: a page on attacker.example points its name at this server
//   and then talks to it as its own origin, reading every answer. Its requests
//   carry `Host: attacker.example`, so a Host that could be such a name is
//   refused. An IP address or `localhost` cannot be (no one else's DNS decides
//   what they mean), nor can SWARMQ_HOST or a name in SWARMQ_ALLOWED_HOSTS,
//   which the operator vouches for. The port is not checked: rebinding does not
//   change it, while an SSH tunnel or a Docker port mapping does. Listening on
//   every interface (0.0.0.0, the Docker image) with a token set, any Host is
//   served: a rebound page holds neither the token nor a cookie for its name,
//   so it gets 401s, and deployments behind a proxy keep working without a
//   list. Without a token there, only the names above (a warning says so at
//   start).
// - Cross-site requests: a page of another origin can POST a form or a
//   text/plain fetch (no CORS preflight) and change things without reading
//   the answer. Changes (anything but GET, HEAD, OPTIONS) from a browser must
//   come from this server's own origin (Sec-Fetch-Site: same-origin, or an
//   Origin naming the Host asked for, whatever its scheme as a TLS proxy makes
//   https of http, or a name in SWARMQ_ALLOWED_HOSTS).
//   A request with neither header is not from a browser page (curl, SDKs) and
//   is served; it is the token that guards against those.
//
// The decisions are pure; the middleware only reads headers.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { SwarmError } from '../errors.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { entryMatches, isIpLiteral, isUnspecified, parseAuthority, type Authority } from './authority.ts';

export interface WebPolicy {
  /** Where the API listens (SWARMQ_HOST). */
  listenHost: string;
  /** SWARMQ_ALLOWED_HOSTS, parsed. */
  allowedHosts: readonly Authority[];
  /** SWARMQ_API_TOKEN is set. */
  tokenRequired: boolean;
}

export type Verdict = { ok: true; host: Authority } | { ok: false; message: string };

const WHAT_TO_DO = 'If it is a name of yours, add it to SWARMQ_ALLOWED_HOSTS (comma-separated host or host:port).';

function defaultPort(scheme: string): number {
  return scheme === 'https' ? 443 : 80;
}

/** Whether a request's Host names this server (see the top of the file). */
export function hostVerdict(policy: WebPolicy, hostHeader: string | undefined, scheme: string): Verdict {
  if (hostHeader === undefined) return { ok: false, message: `send a Host header naming this server. ${WHAT_TO_DO}` };
  const host = parseAuthority(hostHeader);
  if (!host) return { ok: false, message: `Host "${hostHeader.slice(0, 200)}" is not a host[:port]` };
  const listen = policy.listenHost.replace(/^\[|\]$/g, '').toLowerCase();
  if (
    isIpLiteral(host.hostname) ||
    host.hostname === 'localhost' ||
    host.hostname === listen ||
    policy.allowedHosts.some((e) => entryMatches(e, host, defaultPort(scheme))) ||
    (isUnspecified(policy.listenHost) && policy.tokenRequired)
  ) {
    return { ok: true, host };
  }
  return {
    ok: false,
    message: `Host "${hostHeader}" is not a name of this server: a web page on another name may have pointed it here (DNS rebinding), or a proxy passes its own name on. ${WHAT_TO_DO}`,
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface BrowserSignals {
  method: string;
  /** The Host the request was sent to (already accepted by hostVerdict). */
  host: Authority;
  origin: string | undefined;
  /** Sec-Fetch-Site, which a page cannot set. */
  fetchSite: string | undefined;
}

/** Whether a request that changes something may come from where the browser says it comes from. */
export function originVerdict(policy: WebPolicy, r: BrowserSignals): { ok: true } | { ok: false; message: string } {
  if (SAFE_METHODS.has(r.method)) return { ok: true };
  const refused = (from: string) => ({
    ok: false as const,
    message: `refused ${r.method} from a page of ${from}: only this server's own pages may change things in a browser (tools that send no Origin are served). If that origin is yours, add its host to SWARMQ_ALLOWED_HOSTS.`,
  });
  if (r.fetchSite === 'same-origin') return { ok: true };
  if (r.fetchSite === 'cross-site') return refused(r.origin ?? 'another site');
  // A same-site request from another origin (another port, another subdomain) always names it; without one, who sent it cannot be told.
  if (r.origin === undefined) return r.fetchSite === 'same-site' ? refused('another origin of this site') : { ok: true };
  const from = originAuthority(r.origin);
  if (!from) return refused(`an opaque origin (${r.origin.slice(0, 100)})`);
  const port = (a: Authority) => a.port ?? defaultPort(from.scheme);
  if (from.host.hostname === r.host.hostname && port(from.host) === port(r.host)) return { ok: true };
  if (policy.allowedHosts.some((e) => entryMatches(e, from.host, defaultPort(from.scheme)))) return { ok: true };
  return refused(r.origin);
}

/** `http(s)://host[:port]` → its parts; undefined for `null` and any other scheme. */
function originAuthority(origin: string): { scheme: string; host: Authority } | undefined {
  const m = /^(https?):\/\/([^/?#]+)$/i.exec(origin.trim());
  const host = m ? parseAuthority(m[2]!) : undefined;
  return m && host ? { scheme: m[1]!.toLowerCase(), host } : undefined;
}

export function webPolicy(http: Pick<SwarmConfig['http'], 'host' | 'allowedHosts' | 'apiToken'>): WebPolicy {
  return {
    listenHost: http.host,
    allowedHosts: http.allowedHosts.flatMap((e) => parseAuthority(e) ?? []),
    tokenRequired: http.apiToken !== undefined,
  };
}

/** Refuses (403, before any body is read) a foreign Host on every route, and a cross-site change. */
export function webGuard(http: Pick<SwarmConfig['http'], 'host' | 'allowedHosts' | 'apiToken'>): RequestHandler {
  const policy = webPolicy(http);
  return (req: Request, _res: Response, next: NextFunction) => {
    // The Host header itself, never X-Forwarded-Host (req.host under trust proxy): the name the browser used.
    const host = hostVerdict(policy, req.headers.host, req.protocol);
    if (!host.ok) return next(new SwarmError('host_not_allowed', host.message));
    const origin = originVerdict(policy, { method: req.method, host: host.host, origin: req.get('origin'), fetchSite: req.get('sec-fetch-site')?.toLowerCase() });
    if (!origin.ok) return next(new SwarmError('origin_not_allowed', origin.message));
    next();
  };
}
