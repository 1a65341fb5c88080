// Browser sessions of the dashboard and Bull Board: a random id in the cookie,
// a record in Redis with the session's lifetime as its TTL, so logging out
// deletes it and every coordinator refuses the cookie from then on.
//
// Redis holds only the SHA-256 of the id (key `<prefix>:{swarm}:session:<hash>`):
// reading Redis (a replica, a backup, MONITOR) yields no usable cookie. The
// record's value is an HMAC, keyed by the API token, of that hash. So a session
// counts only under the token it was issued with (a new token logs every browser
// out), and a process holding Redis credentials but not the token cannot mint
// one: it can delete sessions, or keep one alive past its 12 h. That is within
// what Redis credentials already give (full control of the swarm), as the
// auth section of docs/operations.md says.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { swarmKeys } from '../../queues/keys.ts';

export const SESSION_SECONDS = 12 * 3600;

/** 32 random bytes, base64url: what open() issues, and so all a cookie may be before Redis is asked. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

function idHash(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** What the record of a session must hold under this token. */
function seal(token: string, hash: string): string {
  return createHmac('sha256', token).update(`swarmq session v2\n${hash}`).digest('base64url');
}

export class Sessions {
  private readonly keys: ReturnType<typeof swarmKeys>;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly token: string,
  ) {
    this.keys = swarmKeys(prefix);
  }

  /** A new session (call only for someone who presented the token); its id, for the cookie. */
  async open(): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const hash = idHash(id);
    await this.redis.set(this.keys.session(hash), seal(this.token, hash), 'EX', SESSION_SECONDS);
    return id;
  }

  /** Whether the id is of a session open now, issued under this token. */
  async holds(id: string): Promise<boolean> {
    if (!SESSION_ID.test(id)) return false;
    const hash = idHash(id);
    const stored = await this.redis.get(this.keys.session(hash));
    if (stored === null) return false;
    const a = Buffer.from(stored);
    const b = Buffer.from(seal(this.token, hash));
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Ends the session at once, on every coordinator. */
  async close(id: string): Promise<void> {
    if (SESSION_ID.test(id)) await this.redis.del(this.keys.session(idHash(id)));
  }
}
