// `swarmq acl`: the users of a swarm's roles, for an operator to create.
// Passwords live only in files (one per user, mode 0600, in --secrets-dir):
// read when present, so running it again keeps them; generated when absent.
// What is printed, the ACL file and what --apply sends carry each password's
// SHA-256 only, so neither the terminal nor a log ever holds a password.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeRedisTarget, isCluster, type RedisTarget } from '../../queues/redisTarget.ts';
import { withRedisOnce } from '../redisOnce.ts';
import { HOST_ID } from '../agents/spec.ts';
import { SwarmError } from '../errors.ts';
import { aclFile, aclUser, passwordHash, setUserLine, swarmRoles, type AclUser } from './aclUsers.ts';

export interface AclCommandOptions {
  prefix: string;
  hosts: readonly string[];
  secretsDir: string;
  /** Write the users as a Redis ACL file here (for `redis-server --aclfile`). */
  aclFilePath?: string;
  /** Create the users on this Redis (every node of a Cluster) with ACL SETUSER. */
  apply?: RedisTarget;
}

export function parseHosts(list: string | undefined): string[] {
  const hosts = (list ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  for (const h of hosts) if (!HOST_ID.test(h)) throw new SwarmError('invalid_request', `--hosts: "${h}" is not a host id (letters, digits, "_", "." and "-"; the --host-id the host runs with)`);
  return hosts;
}

/** The user's password from `<dir>/<user>.password`, made (mode 0600) when the file is absent. */
function passwordOf(dir: string, user: string): { password: string; created: boolean } {
  const path = join(dir, `${user}.password`);
  if (existsSync(path)) {
    const password = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    if (password === '') throw new SwarmError('invalid_request', `${path} is empty: delete it to have a new password made, or write one into it`);
    return { password, created: false };
  }
  const password = randomBytes(24).toString('base64url');
  writeFileSync(path, `${password}\n`, { mode: 0o600, flag: 'wx' });
  return { password, created: true };
}

function writePrivate(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
}

async function applyUsers(target: RedisTarget, users: readonly AclUser[]): Promise<string> {
  return await withRedisOnce(target, 'swarmq:acl', async (redis) => {
    // Users are not replicated: every node, replicas too, so a promoted replica knows them.
    const servers = isCluster(redis) ? redis.nodes('all') : [redis];
    for (const server of servers) {
      for (const u of users) {
        try {
          await server.call('ACL', 'SETUSER', u.name, ...u.words);
        } catch (err) {
          const m = (err as Error).message;
          const hint = /NOPERM|no permissions/.test(m) ? ': the Redis user of --redis-url / REDIS_URL must be an administrator (ACL SETUSER)' : '';
          throw new SwarmError('invalid_request', `ACL SETUSER ${u.name} on ${server.options.host}:${server.options.port} failed: ${m}${hint}`);
        }
      }
    }
    return `created ${users.length} users on ${servers.length === 1 ? describeRedisTarget(target) : `${servers.length} nodes of the Cluster`}`;
  });
}

/** What `swarmq acl` prints: the ACL SETUSER lines, then where each secret is and what was done. */
export async function aclCommand(o: AclCommandOptions): Promise<{ out: string; notes: string[] }> {
  mkdirSync(o.secretsDir, { recursive: true, mode: 0o700 });
  const notes: string[] = [];
  const users = swarmRoles(o.hosts).map((role) => {
    const name = aclUser(o.prefix, role, '0'.repeat(64)).name;
    const { password, created } = passwordOf(o.secretsDir, name);
    if (created) notes.push(`made a password for ${name}: ${join(o.secretsDir, `${name}.password`)}`);
    return aclUser(o.prefix, role, passwordHash(password));
  });
  if (o.hosts.length === 0) notes.push('no --hosts given: no agent host user made (one per host: --hosts h1,h2 with each host\'s --host-id)');
  if (o.aclFilePath) {
    writePrivate(o.aclFilePath, aclFile(users));
    notes.push(`wrote the ACL file ${o.aclFilePath} (redis-server --aclfile ${o.aclFilePath}; its default user may only PING)`);
  }
  if (o.apply) notes.push(await applyUsers(o.apply, users));
  notes.push(`each process: REDIS_URL=redis://<user>@host:port and SWARMQ_REDIS_PASSWORD_FILE=${join(o.secretsDir, '<user>.password')}`);
  return { out: users.map(setUserLine).join('\n'), notes };
}
