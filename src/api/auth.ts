// API auth by one shared token (SWARMQ_API_TOKEN): `Authorization: Bearer
// <token>`, or for the pages a session cookie set by POST /login. The cookie
// holds a random session id whose record is in Redis (sessions.ts), so
// POST /logout ends it everywhere at once, and a new token logs every browser
// out. Only POST /login, given the token, opens a session. Comparisons are
// constant-time.
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { z } from 'zod';
import { SwarmError } from '../errors.ts';
import { isLoopback } from './authority.ts';
import { loginPage } from './loginPage.ts';
import { SESSION_SECONDS, Sessions } from './sessions.ts';

export const SESSION_COOKIE = 'swarmq_session';

/** Equal strings, in time that does not depend on where they differ (digests first, so lengths leak nothing either). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * How a request got past the token, for the records that name who did
 * something (an approval: src/tasks/approval.ts): the token itself, or a
 * browser session opened with it, named by the first characters of its id's
 * SHA-256 (enough to tell sessions apart; Redis keeps the full hash, never the id).
 * The token is shared, so neither names a person.
 */
export type CallerAuth = { via: 'token' } | { via: 'session'; session: string };

const CALLER = 'swarmqCaller';

/** The caller as the guard let it in; undefined when no API token is configured (nothing was checked). */
export function callerOf(res: Response): CallerAuth | undefined {
  return res.locals[CALLER] as CallerAuth | undefined;
}

async function authorizedAs(req: Request, token: string, sessions: Sessions): Promise<CallerAuth | undefined> {
  const header = req.get('authorization');
  if (header !== undefined) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return m !== null && sameSecret(m[1]!, token) ? { via: 'token' } : undefined;
  }
  const session = cookie(req, SESSION_COOKIE);
  if (session === undefined || !(await sessions.holds(session))) return undefined;
  return { via: 'session', session: createHash('sha256').update(session).digest('hex').slice(0, 12) };
}

/** Refuses with 401 unless the request carries the token or an open session; a browser asking for a page gets the login form with it. */
function requireToken(token: string, sessions: Sessions): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const caller = await authorizedAs(req, token, sessions);
    if (caller) {
      res.locals[CALLER] = caller;
      return next();
    }
    res.set('www-authenticate', 'Bearer realm="swarmq"');
    if (req.method === 'GET' && req.accepts(['json', 'html']) === 'html' && !req.originalUrl.startsWith('/api/')) {
      res.status(401).type('html').send(loginPage(req.originalUrl));
      return;
    }
    next(new SwarmError('unauthorized', 'send Authorization: Bearer <SWARMQ_API_TOKEN>, or log in at /login'));
  };
}

const loginSchema = z.object({ token: z.string().min(1).max(4096), next: z.string().max(2048).optional() });

/** Only a path on this server: never another origin (`//host`, `/\host`, `https://…`). */
function safeNext(next: string | undefined, fallback: string): string {
  return next && /^\/(?![/\\])[^\s]*$/.test(next) ? next : fallback;
}

/** GET /login (the form), POST /login (form or JSON `{ token }`: opens a session), POST /logout (ends it). */
function loginRouter(token: string, landing: string, sessions: Sessions): Router {
  const router = express.Router();
  const bodies = [express.urlencoded({ extended: false, limit: 8192 }), express.json({ limit: 8192 })];
  router.get('/login', (req, res) => {
    res.type('html').set('cache-control', 'no-store').send(loginPage(safeNext(typeof req.query.next === 'string' ? req.query.next : undefined, landing)));
  });
  router.post('/login', ...bodies, async (req, res) => {
    const parsed = loginSchema.safeParse(req.body);
    if (!parsed.success) throw new SwarmError('invalid_request', 'send the token as a form field or JSON { "token": … }', [{ path: 'token', message: 'required' }]);
    const form = Boolean(req.is('application/x-www-form-urlencoded'));
    if (!sameSecret(parsed.data.token, token)) {
      if (form) {
        res.status(401).type('html').send(loginPage(safeNext(parsed.data.next, landing), 'That token is not right.'));
        return;
      }
      throw new SwarmError('unauthorized', 'wrong token');
    }
    // Secure when the browser spoke HTTPS: to this server, or to a proxy trusted by SWARMQ_TRUST_PROXY.
    res.cookie(SESSION_COOKIE, await sessions.open(), { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/', maxAge: SESSION_SECONDS * 1000 });
    if (form) res.redirect(303, safeNext(parsed.data.next, landing));
    else res.json({ ok: true });
  });
  router.post('/logout', async (req, res) => {
    const session = cookie(req, SESSION_COOKIE);
    if (session !== undefined) await sessions.close(session);
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
    res.json({ ok: true });
  });
  return router;
}

export interface TokenAuth {
  /** GET/POST /login, POST /logout. */
  login: Router;
  /** Mounted in front of what the token protects. */
  guard: RequestHandler;
}

/** The token's guard and the login routes, sharing the sessions kept in the swarm's Redis. */
export function tokenAuth(o: { token: string; redis: RedisClient; prefix: string; landing: string }): TokenAuth {
  const sessions = new Sessions(o.redis, o.prefix, o.token);
  return { login: loginRouter(o.token, o.landing, sessions), guard: requireToken(o.token, sessions) };
}

/** Why starting like this is risky, if it is: listening beyond loopback without a token. */
export function exposureWarning(host: string, token: string | undefined): string | undefined {
  if (token) return undefined;
  return isLoopback(host) ? undefined : `the API listens on ${host} without SWARMQ_API_TOKEN: anyone who can reach it can submit tasks, retire agents and read results. Set SWARMQ_API_TOKEN, or SWARMQ_HOST=127.0.0.1. Until then, a browser is served only at an IP address, localhost, or a name in SWARMQ_ALLOWED_HOSTS.`;
}
