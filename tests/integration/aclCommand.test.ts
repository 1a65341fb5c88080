// `swarmq acl`: passwords made once into 0600 files and kept on a second run,
// nothing secret printed, the users created with --apply log in with those
// files, and the ACL file starts a redis-server whose default user only PINGs.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { launchRedisServer } from '../../src/cli/redisServer.ts';
import { toRedisTarget } from '../../queues/redisTarget.ts';
import { aclCommand, parseHosts } from '../../src/security/aclCommand.ts';
import { redisForFile } from '../support/redis.ts';

const redis = redisForFile({ own: true });
const dir = mkdtempSync(join(tmpdir(), 'swarmq-aclcmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secrets = join(dir, 'secrets');
const mode = (p: string) => statSync(p).mode & 0o777;

describe('swarmq acl', () => {
  it('makes a password file per user once, prints only hashes, and --apply creates users that log in with them', async () => {
    const first = await aclCommand({ prefix: 'swarmq', hosts: ['h1'], secretsDir: secrets, apply: toRedisTarget(redis.url) });
    const users = ['swarmq-coordinator', 'swarmq-operator', 'swarmq-producer', 'swarmq-host-h1'];
    for (const u of users) expect(mode(join(secrets, `${u}.password`))).toBe(0o600);
    expect(mode(secrets)).toBe(0o700);
    const password = readFileSync(join(secrets, 'swarmq-host-h1.password'), 'utf8').trim();
    expect(first.out).not.toContain(password);
    expect(first.out.split('\n').map((l) => l.split(' ')[2])).toEqual(users);
    expect(first.notes.join('\n')).toContain('created 4 users');

    const again = await aclCommand({ prefix: 'swarmq', hosts: ['h1'], secretsDir: secrets });
    expect(again.out).toBe(first.out);
    expect(again.notes.join('\n')).not.toContain('made a password');

    const host = new Redis(redis.port, '127.0.0.1', { username: 'swarmq-host-h1', password, lazyConnect: true });
    try {
      await host.connect();
      await host.zadd('swarmq:{swarm}:hosts', Date.now(), 'h1');
      await expect(host.set('swarmq:{swarm}:lease', '1')).rejects.toThrow(/NOPERM/);
    } finally {
      host.disconnect();
    }
  });

  it('writes an ACL file redis-server starts with, whose default user may only PING', async () => {
    const file = join(dir, 'users.acl');
    await aclCommand({ prefix: 'swarmq', hosts: ['h1', 'h2'], secretsDir: secrets, aclFilePath: file });
    expect(mode(file)).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(readFileSync(join(secrets, 'swarmq-producer.password'), 'utf8').trim());
    const data = mkdtempSync(join(dir, 'redis-'));
    const server = await launchRedisServer({ dir: data, appendonly: false, extraArgs: ['--aclfile', file] });
    const anonymous = new Redis(server.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
    const password = readFileSync(join(secrets, 'swarmq-operator.password'), 'utf8').trim();
    const operator = new Redis(server.port, '127.0.0.1', { username: 'swarmq-operator', password, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await anonymous.connect();
      expect(await anonymous.ping()).toBe('PONG');
      await expect(anonymous.get('swarmq:{swarm}:lease')).rejects.toThrow(/NOPERM/);
      await operator.connect();
      expect(await operator.set('swarmq:{swarm}:probe', '1')).toBe('OK');
      await expect(operator.set('other:{swarm}:probe', '1')).rejects.toThrow(/NOPERM/);
    } finally {
      anonymous.disconnect();
      operator.disconnect();
      await server.kill('SIGKILL');
    }
  });

  it('says what to do when a host id is not one, a password file is empty, or the applying user is no administrator', async () => {
    expect(() => parseHosts('h1,bad id')).toThrow('--hosts: "bad id" is not a host id');
    const empty = join(dir, 'empty');
    await aclCommand({ prefix: 'p1', hosts: [], secretsDir: empty });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(empty, 'p1-producer.password'), '');
    await expect(aclCommand({ prefix: 'p1', hosts: [], secretsDir: empty })).rejects.toThrow(/p1-producer.password is empty: delete it/);
    const operator = readFileSync(join(secrets, 'swarmq-operator.password'), 'utf8').trim();
    const asOperator = toRedisTarget(`redis://swarmq-operator:${operator}@127.0.0.1:${redis.port}`);
    await expect(aclCommand({ prefix: 'swarmq', hosts: [], secretsDir: secrets, apply: asOperator })).rejects.toThrow(/must be an administrator/);
  });
});
