// The ids swarmq issues, and only those, pass their grammar (task ids,
// replicated task ids, proposal ids, agent ids, event stream ids): whatever
// else a caller sends (a BullMQ key suffix, `<id>:lock`, a very long or
// non-ASCII id) is refused before it can become part of a Redis key.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agentIdSchema, hostIdSchema, newAgentId } from '../../src/agents/spec.ts';
import { newProposalId, proposalIdSchema } from '../../src/consensus/runtime/proposal.ts';
import { isReplicatedTaskId } from '../../src/consensus/runtime/judgeReplicated.ts';
import { intakeVerdict, MAX_INTAKE_TRIES } from '../../src/coordinator/intake.ts';
import { SwarmError } from '../../src/errors.ts';
import { isStreamId } from '../../src/swarm/events.ts';
import { isIssuedTaskId, newReplicatedTaskId, newTaskId, nodeOfTaskId } from '../../src/tasks/ids.ts';

const BULLMQ_SUFFIXES = ['meta', 'events', 'id', 'wait', 'active', 'paused', 'prioritized', 'delayed', 'completed', 'failed', 'stalled-check', 'marker', 'pc', 'limiter', 'waiting-children', 'de', 'repeat'];

function crafted(real: string): string[] {
  return [
    ...BULLMQ_SUFFIXES,
    `${real}:lock`,
    `${real}:logs`,
    `${real}:dependencies`,
    `${real}:processed`,
    'x:lock',
    'r-x:dependencies',
    `${real} `,
    ` ${real}`,
    `${real}\n`,
    `${real}x`,
    real.slice(0, -1),
    `${real}😀`,
    '😀',
    'é'.repeat(12),
    'a'.repeat(10_000),
    '',
    '{g1}',
    '*',
  ];
}

describe('task ids', () => {
  it('every id newTaskId and newReplicatedTaskId issue passes, and is classified as before', () => {
    for (let i = 0; i < 2000; i++) {
      const node = i % 3 === 0 ? 'parked' : `n${1 + i * 37}`;
      const id = newTaskId(node);
      expect(isIssuedTaskId(id), id).toBe(true);
      expect(nodeOfTaskId(id)).toBe(node);
      expect(isReplicatedTaskId(id)).toBe(false);
      const r = newReplicatedTaskId();
      expect(isIssuedTaskId(r), r).toBe(true);
      expect(isReplicatedTaskId(r)).toBe(true);
    }
  });

  it('anything else fails', () => {
    for (const real of [newTaskId('n1'), newReplicatedTaskId()]) {
      for (const id of crafted(real)) expect(isIssuedTaskId(id), JSON.stringify(id.slice(0, 40))).toBe(false);
    }
    for (const id of ['n0.AAAAAAAAAAAA', 'n01.AAAAAAAAAAAA', 'g1.AAAAAAAAAAAA', 'nx.AAAAAAAAAAAA', `n${'9'.repeat(40)}.AAAAAAAAAAAA`, 'parked.AAAA:AAAAAAA', 'r-AAAAAAAA.AAAA']) {
      expect(isIssuedTaskId(id), id).toBe(false);
    }
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => !s.includes(':') || !isIssuedTaskId(s)));
  });
});

describe('proposal ids', () => {
  it('what newProposalId issues passes; anything else fails', () => {
    for (let i = 0; i < 500; i++) expect(proposalIdSchema.safeParse(newProposalId()).success).toBe(true);
    for (const id of [...crafted(newProposalId()), 'p-1', 'p-000000000000000G', newReplicatedTaskId()]) {
      expect(proposalIdSchema.safeParse(id).success, JSON.stringify(id.slice(0, 40))).toBe(false);
    }
  });
});

describe('agent ids', () => {
  it('what newAgentId issues for any valid host id passes; anything else fails', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_.-]{1,200}$/), fc.integer({ min: 1, max: 1e9 }), (host, seq) => {
        expect(hostIdSchema.safeParse(host).success).toBe(true);
        expect(agentIdSchema.safeParse(newAgentId(host, seq)).success).toBe(true);
      }),
    );
    for (const id of [...crafted(newAgentId('h1', 3)), 'h1', 'h1-a0', 'h1-a', 'h:1-a1', 'h1-a1:lock']) {
      expect(agentIdSchema.safeParse(id).success, JSON.stringify(id.slice(0, 40))).toBe(false);
    }
  });
});

describe('event stream ids', () => {
  it('each part is at most 2^64 − 1, as Redis requires', () => {
    const max = (2n ** 64n - 1n).toString();
    expect(isStreamId('1733100000000-0')).toBe(true);
    expect(isStreamId(`${max}-${max}`)).toBe(true);
    for (const id of ['99999999999999999999-0', `0-${2n ** 64n}`, `${2n ** 64n}-0`, '1-', '-1', '1', '1-0-0', '$', '0', `1-${'0'.repeat(21)}`]) {
      expect(isStreamId(id), id).toBe(false);
    }
  });
});

describe('intake errors', () => {
  it('Redis trouble waits; a SwarmError fails at once; anything else fails after MAX_INTAKE_TRIES starts', () => {
    const redisDown = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    expect(intakeVerdict(redisDown, 1_000)).toEqual({ defer: true });
    expect(intakeVerdict(new SwarmError('redis_unavailable', 'Redis is not answering'), 1_000)).toEqual({ defer: true });
    expect(intakeVerdict(new SwarmError('invalid_request', 'invalid task: type: required'), 1)).toEqual({ defer: false, reason: 'invalid task: type: required' });
    expect(intakeVerdict(new SwarmError('internal', 'task id x names no node'), 1)).toEqual({ defer: false, reason: 'task id x names no node' });
    const bug = new RangeError('Maximum call stack size exceeded');
    for (let started = 1; started < MAX_INTAKE_TRIES; started++) expect(intakeVerdict(bug, started)).toEqual({ defer: true });
    expect(intakeVerdict(bug, MAX_INTAKE_TRIES)).toEqual({ defer: false, reason: `Maximum call stack size exceeded (failed ${MAX_INTAKE_TRIES} tries)` });
  });
});
