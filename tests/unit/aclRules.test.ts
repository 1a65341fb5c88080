// The ACL rules of each role (pure): what each pattern grants, checked with a
// glob matcher written as Redis's stringmatch works, and the limitations
// documented one for one in docs/security-acl.md.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ACL_LIMITATIONS } from '../../src/security/aclLimitations.ts';
import { ACL_ROLE_KINDS, aclRules, aclUserName, type AclRole } from '../../src/security/aclRules.ts';
import { aclFile, aclUser, passwordHash, setUserLine, swarmRoles } from '../../src/security/aclUsers.ts';

const doc = readFileSync(new URL('../../docs/security-acl.md', import.meta.url), 'utf8');

/** Redis's glob (`*`, `?`, no brackets in our patterns): `{` and `}` are plain characters. */
function globMatches(pattern: string, key: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(key);
}

/** Read / write access a role's root rules (not its selectors) give to a key. */
function access(role: AclRole, key: string): { read: boolean; write: boolean } {
  let read = false;
  let write = false;
  for (const w of aclRules('swarmq', role)) {
    if (w.startsWith('(')) continue;
    const m = /^(~|%R~|%W~|%RW~)(.+)$/.exec(w);
    if (!m || !globMatches(m[2]!, key)) continue;
    if (m[1] !== '%W~') read = true;
    if (m[1] !== '%R~') write = true;
  }
  return { read, write };
}

const h1: AclRole = { kind: 'host', hostId: 'h1' };

describe('ACL rules', () => {
  it('names users by prefix and role', () => {
    expect(aclUserName('swarmq', h1)).toBe('swarmq-host-h1');
    expect(swarmRoles(['h1', 'h1', 'h2']).map((r) => aclUserName('p', r))).toEqual(['p-coordinator', 'p-operator', 'p-producer', 'p-host-h1', 'p-host-h2']);
  });

  it('keeps a host to its own control queue, inbox and replay windows', () => {
    expect(access(h1, 'swarmq:control-{h1}:wait')).toEqual({ read: true, write: true });
    expect(access(h1, 'swarmq:control-{h2}:wait')).toEqual({ read: false, write: false });
    expect(access(h1, 'swarmq:control-{h10}:wait')).toEqual({ read: false, write: false });
    expect(access(h1, 'swarmq:{swarm}:consensus:inbox:h1')).toEqual({ read: true, write: true });
    expect(access(h1, 'swarmq:{swarm}:consensus:inbox:h2')).toEqual({ read: false, write: false });
    expect(access(h1, 'swarmq:{swarm}:consensus:round:p-1:replay:h2').write).toBe(false);
    expect(access(h1, 'swarmq:{g3}:waker-bell:h2').write).toBe(false);
    // Other hosts' inboxes and the event stream: a selector that adds entries and nothing else.
    expect(aclRules('swarmq', h1).at(-1)).toBe('(~swarmq:{swarm}:consensus:inbox:* ~swarmq:{swarm}:events resetchannels -@all +xadd)');
  });

  it('gives neither a host nor a producer the lease, partitions, loads or proposals to write', () => {
    for (const role of [h1, { kind: 'producer' } as const]) {
      for (const key of ['swarmq:{swarm}:lease', 'swarmq:{swarm}:lease-owner', 'swarmq:{swarm}:lease-counter', 'swarmq:{swarm}:coordinators', 'swarmq:{g1}:partition', 'swarmq:{swarm}:partition:host:h1', 'swarmq:{swarm}:loads', 'swarmq:consensus-{swarm}:p-0123456789abcdef', 'other:{swarm}:agents']) {
        expect(access(role, key).write, `${role.kind} writes ${key}`).toBe(false);
      }
    }
    expect(access(h1, 'swarmq:consensus-{swarm}:p-0123456789abcdef')).toEqual({ read: true, write: false });
    expect(access({ kind: 'producer' }, 'swarmq:{swarm}:agents')).toEqual({ read: true, write: false });
    expect(access({ kind: 'producer' }, 'swarmq:node-{g4}-n31:wait').write).toBe(true);
  });

  it('lets a host index the outputs it parks for approval, and keeps the decision script from producers', () => {
    expect(access(h1, 'swarmq:{g4}:awaiting-approval')).toEqual({ read: true, write: true });
    expect(access(h1, 'swarmq:{swarm}:awaiting-approval').write).toBe(false);
    for (const key of ['swarmq:{g4}:awaiting-approval', 'swarmq:{swarm}:awaiting-approval']) expect(access({ kind: 'producer' }, key), key).toEqual({ read: false, write: false });
    for (const kind of ['coordinator', 'operator'] as const) expect(access({ kind }, 'swarmq:{swarm}:awaiting-approval').write).toBe(true);
  });

  it('gives the coordinator and the operator their prefix only, and no role a channel', () => {
    for (const kind of ['coordinator', 'operator'] as const) {
      expect(access({ kind }, 'swarmq:anything:at:all').write).toBe(true);
      expect(access({ kind }, 'swarmqx:{swarm}:lease').read).toBe(false);
    }
    for (const role of swarmRoles(['h1'])) {
      const rules = aclRules('swarmq', role);
      expect(rules[0]).toBe('resetchannels');
      expect(rules.filter((w) => w.startsWith('&'))).toEqual([]);
      expect(rules).toEqual(expect.arrayContaining(['-@dangerous', '-@admin', '-function']));
      expect(rules.includes('+scan')).toBe(role.kind === 'operator');
    }
  });

  it('refuses a host id or prefix that would be a glob', () => {
    expect(() => aclRules('swarmq', { kind: 'host', hostId: 'h*' })).toThrow('host id "h*"');
    expect(() => aclRules('sw[a]rmq', { kind: 'producer' })).toThrow('prefix "sw[a]rmq"');
  });

  it('renders users with password hashes only', () => {
    const u = aclUser('swarmq', h1, passwordHash('s3cret'));
    expect(u.words.slice(0, 3)).toEqual(['reset', 'on', `#${passwordHash('s3cret')}`]);
    expect(setUserLine(u)).not.toContain('s3cret');
    expect(setUserLine(u)).toMatch(/ "\(~swarmq:\{swarm\}:consensus:inbox:\* .* \+xadd\)"$/);
    const file = aclFile([u]);
    expect(file.split('\n')[0]).toBe('user default on nopass resetkeys resetchannels -@all +ping');
    expect(file).not.toMatch(/ reset /);
    expect(() => aclUser('swarmq', h1, 'not-a-hash')).toThrow('64 lower-case hex');
  });
});

describe('ACL limitations', () => {
  it('are each documented in docs/security-acl.md, with roles that exist', () => {
    const documented = [...doc.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual(ACL_LIMITATIONS.map((l) => l.id));
    for (const l of ACL_LIMITATIONS) for (const r of l.roles) expect(ACL_ROLE_KINDS).toContain(r);
  });

  it('name keys their roles can in fact write', () => {
    for (const l of ACL_LIMITATIONS) {
      for (const key of l.keys) {
        if (key === '*') continue;
        const concrete = key.replace(/\*/g, 'x1');
        for (const kind of l.roles) {
          const role: AclRole = kind === 'host' ? h1 : { kind };
          const expected = l.id === 'key-names-visible' ? 'read' : 'write';
          expect(access(role, concrete)[expected], `${l.id}: ${kind} and ${concrete}`).toBe(true);
        }
      }
    }
  });
});
