// API auth by one shared token (SWARMQ_API_TOKEN): `Authorization: Bearer
// <token>`, or for the pages a session cookie set by POST /login. The cookie
// holds an HMAC of the token, never the token, so changing the token logs
// every browser out. Comparisons are constant-time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import { SwarmError } from '../errors.ts';
import { loginPage } from './loginPage.ts';

export const SESSION_COOKIE = 'swarmq_session';
const SESSION_SECONDS = 12 * 3600;

/** Equal strings, in time that does not depend on where they differ (digests first, so lengths leak nothing either). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('swarmq session v1').digest('base64url');
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function isAuthorized(req: Request, token: string): boolean {
  const header = req.get('authorization');
  if (header !== undefined) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return m !== null && sameSecret(m[1]!, token);
  }
  const session = cookie(req, SESSION_COOKIE);
  return session !== undefined && sameSecret(session, sessionValue(token));
}

/** Refuses with 401 unless the request carries the token; a browser asking for a page gets the login form with it. */
export function requireToken(token: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (isAuthorized(req, token)) return next();
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

/** GET /login (the form), POST /login (form or JSON `{ token }`: sets the session cookie), POST /logout. */
export function loginRouter(token: string, landing: string): Router {
  const router = express.Router();
  const bodies = [express.urlencoded({ extended: false, limit: 8192 }), express.json({ limit: 8192 })];
  router.get('/login', (req, res) => {
    res.type('html').set('cache-control', 'no-store').send(loginPage(safeNext(typeof req.query.next === 'string' ? req.query.next : undefined, landing)));
  });
  router.post('/login', ...bodies, (req, res) => {
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
    res.cookie(SESSION_COOKIE, sessionValue(token), { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/', maxAge: SESSION_SECONDS * 1000 });
    if (form) res.redirect(303, safeNext(parsed.data.next, landing));
    else res.json({ ok: true });
  });
  router.post('/logout', (req, res) => {
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
    res.json({ ok: true });
  });
  return router;
}

/** Why starting like this is risky, if it is: listening beyond loopback without a token. */
export function exposureWarning(host: string, token: string | undefined): string | undefined {
  if (token) return undefined;
  const h = host.replace(/^\[|\]$/g, '');
  const loopback = h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
  return loopback ? undefined : `the API listens on ${host} without SWARMQ_API_TOKEN: anyone who can reach it can submit tasks, retire agents and read results. Set SWARMQ_API_TOKEN, or SWARMQ_HOST=127.0.0.1.`;
}
