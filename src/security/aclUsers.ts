// The users of a swarm's roles, rendered two ways: the arguments of
// `ACL SETUSER` (to run, or print for redis-cli) and the lines of a Redis ACL
// file (`aclfile`). Both carry each password as its SHA-256 (`#<hex>`), so
// what is printed or written here reveals no password. Pure.
import { createHash } from 'node:crypto';
import { aclRules, aclUserName, type AclRole } from './aclRules.ts';

export interface AclUser {
  name: string;
  role: AclRole;
  /** The words after the user name: `reset on #<sha256> …rules`. */
  words: string[];
}

export function passwordHash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}

/** Every role of the swarm: coordinator, operator, producer, and a host user per host id. */
export function swarmRoles(hostIds: readonly string[]): AclRole[] {
  const seen = new Set<string>();
  const hosts = hostIds.filter((h) => !seen.has(h) && seen.add(h));
  return [{ kind: 'coordinator' }, { kind: 'operator' }, { kind: 'producer' }, ...hosts.map((hostId) => ({ kind: 'host' as const, hostId }))];
}

/** The user of `role`, its password given as its hash. `reset` first, so applying it again replaces whatever the user had. */
export function aclUser(prefix: string, role: AclRole, passwordSha256: string): AclUser {
  if (!/^[0-9a-f]{64}$/.test(passwordSha256)) throw new Error('a password hash is 64 lower-case hex digits (SHA-256)');
  return { name: aclUserName(prefix, role), role, words: ['reset', 'on', `#${passwordSha256}`, ...aclRules(prefix, role)] };
}

/** The `ACL SETUSER` command of a user, quoted for redis-cli (selectors hold spaces). */
export function setUserLine(u: AclUser): string {
  const quote = (w: string) => (/^[^\s"'\\]+$/.test(w) ? w : `"${w.replace(/(["\\])/g, '\\$1')}"`);
  return ['ACL', 'SETUSER', u.name, ...u.words].map(quote).join(' ');
}

/**
 * An ACL file for `redis-server --aclfile`: the users, and `default` allowed
 * nothing but PING (health checks), since a file that leaves `default` out
 * leaves it able to do everything without a password.
 */
export function aclFile(users: readonly AclUser[]): string {
  // An ACL file takes no `reset` word: each line defines its user from nothing.
  const lines = users.map((u) => `user ${u.name} ${u.words.filter((w) => w !== 'reset').join(' ')}`);
  return ['user default on nopass resetkeys resetchannels -@all +ping', ...lines].join('\n') + '\n';
}
