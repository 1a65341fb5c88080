// Each Lua command's typed wrapper in queues/ (one per script): the keys it
// builds and the reply it parses, against real Redis. Callers' behaviour is
// covered by their own tests; here each wrapper's own contract.
import { describe, expect, it } from 'vitest';
import { Queue, Worker } from 'bullmq';
import { acquireLease } from '../../queues/acquireLease.ts';
import { cancelTask } from '../../queues/cancelTask.ts';
import { cancelRunning } from '../../queues/cancelRunning.ts';
import { claimParked } from '../../queues/claimParked.ts';
import { claimReplicaSeat, replicaClaimsKey } from '../../queues/claimReplicaSeat.ts';
import { deregisterAgents } from '../../queues/deregisterAgents.ts';
import { getTask, parseTaskJob, queueGetTask } from '../../queues/getTask.ts';
import { CONSENSUS_QUEUE, DEAD_LETTER_QUEUE, INTAKE_QUEUE, PARKED_NODE, awaitingApprovalKey, bullKey, groupKeys, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { queueRaiseCounter, raiseCounter } from '../../queues/raiseCounter.ts';
import { readSwarm } from '../../queues/readSwarm.ts';
import { recoverJobs } from '../../queues/recoverJobs.ts';
import { registerAgents, type AgentToSeat } from '../../queues/registerAgents.ts';
import { reportProgress } from '../../queues/reportProgress.ts';
import { awaitApproval } from '../../queues/awaitApproval.ts';
import { decideApproval } from '../../queues/decideApproval.ts';
import { loadScripts } from '../../queues/scripts.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';

const redis = redisForFile();

describe('queues/ script wrappers', () => {
  it('acquireLease: the first candidate gets token 1 and renews it; another gets 0 until it lapses, then a larger token', async () => {
    const prefix = uniquePrefix('lease');
    expect(await acquireLease(redis.connection, { prefix, candidate: 'a', ttlMs: 200 })).toBe(1);
    expect(await acquireLease(redis.connection, { prefix, candidate: 'a', ttlMs: 200 })).toBe(1);
    expect(await acquireLease(redis.connection, { prefix, candidate: 'b', ttlMs: 200 })).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(await acquireLease(redis.connection, { prefix, candidate: 'b', ttlMs: 200 })).toBe(2);
    expect(await redis.connection.get(`${prefix}:{swarm}:lease-owner`)).toBe('b');
  });

  const agent = (id: string, o: Partial<AgentToSeat> = {}): AgentToSeat => ({
    id, type: 'coder', capabilities: ['git'], capacity: 1, taskTypes: ['echo'], hostId: 'h1', profile: 'coder|', ...o,
  });
  const record = async (prefix: string, id: string) => JSON.parse((await redis.connection.hget(swarmKeys(prefix).agents, id))!) as Record<string, unknown>;
  const node = async (prefix: string, id: string) => JSON.parse((await redis.connection.hget(swarmKeys(prefix).nodes, id))!) as { members: number; queue: string };

  it('registerAgents: seats agents by profile, a node at most full; a re-registered agent keeps its node and start, a pooled one starts when taken', async () => {
    const prefix = uniquePrefix('reg');
    const seats = await registerAgents(redis.connection, { prefix, maxAgentsPerNode: 2, now: 1000, agents: [agent('a'), agent('b'), agent('c'), agent('w', { pooled: true }), agent('r', { profile: 'reviewer|' })] });
    expect(seats).toEqual({ a: 'n1', b: 'n1', c: 'n2', w: 'n2', r: 'n3' });
    expect(await node(prefix, 'n2')).toMatchObject({ members: 2, queue: nodeQueueName('n2') });
    expect(await record(prefix, 'a')).toEqual({ id: 'a', type: 'coder', capabilities: ['git'], capacity: 1, taskTypes: ['echo'], hostId: 'h1', node: 'n1', startedAt: 1000 });
    // The version starts at the first registration's clock, not 0: one Redis that lost its data does not count up to a version routers hold.
    expect(await redis.connection.get(swarmKeys(prefix).rosterVersion)).toBe('1001');

    // Again (a restarted host), and the warm one taken from its pool: same seats, no new members.
    expect(await registerAgents(redis.connection, { prefix, maxAgentsPerNode: 2, now: 2000, agents: [agent('a'), agent('w')] })).toEqual({ a: 'n1', w: 'n2' });
    expect(await record(prefix, 'a')).toMatchObject({ node: 'n1', startedAt: 1000 });
    const w = await record(prefix, 'w');
    expect(w).toMatchObject({ node: 'n2', startedAt: 2000 });
    expect(w.pooled).toBeUndefined();
    expect((await node(prefix, 'n2')).members).toBe(2);
  });

  it('deregisterAgents: removes the registered ones, frees their seats, counts them', async () => {
    const prefix = uniquePrefix('dereg');
    await registerAgents(redis.connection, { prefix, maxAgentsPerNode: 5, now: 1, agents: [agent('a'), agent('b')] });
    expect(await deregisterAgents(redis.connection, { prefix, agentIds: ['a', 'nobody'] })).toBe(1);
    expect(await redis.connection.hkeys(swarmKeys(prefix).agents)).toEqual(['b']);
    expect((await node(prefix, 'n1')).members).toBe(1);
    expect(await redis.connection.get(swarmKeys(prefix).rosterVersion)).toBe('3');
    expect(await deregisterAgents(redis.connection, { prefix, agentIds: ['nobody'] })).toBe(0);
    expect(await redis.connection.get(swarmKeys(prefix).rosterVersion)).toBe('3');
  });

  it('claimReplicaSeat: distinct agents per task, the preferred first; null when all are taken', async () => {
    const prefix = uniquePrefix('seat');
    const seat = (jobId: string, candidates: string[]) => claimReplicaSeat(redis.connection, { prefix, taskId: 't1', jobId, candidates, ttlSeconds: 60 });
    expect(await seat('t1-r1', ['a1', 'a2'])).toBe('a1');
    expect(await seat('t1-r2', ['a1', 'a2'])).toBe('a2');
    expect(await seat('t1-r3', ['a1', 'a2'])).toBeNull();
    expect(await seat('t1-r1', ['a1'])).toBe('a1'); // its own seat again
    expect(await redis.connection.hgetall(replicaClaimsKey(prefix, 't1'))).toEqual({ a1: 't1-r1', a2: 't1-r2' });
    expect(await redis.connection.ttl(replicaClaimsKey(prefix, 't1'))).toBeGreaterThan(50);
  });

  it('getTask: the job hash and its state, run alone or on a pipeline; null for no job', async () => {
    const prefix = uniquePrefix('get');
    const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    try {
      await q.add('echo', { x: 1 }, { jobId: 'n1.a' });
      await q.add('echo', {}, { jobId: 'n1.d', delay: 60_000 });
      const a = await getTask(redis.connection, { prefix, node: 'n1', id: 'n1.a' });
      expect(a?.state).toBe('waiting');
      expect(a?.hash).toMatchObject({ name: 'echo', data: '{"x":1}' });
      expect((await getTask(redis.connection, { prefix, node: 'n1', id: 'n1.d' }))?.state).toBe('delayed');
      expect(await getTask(redis.connection, { prefix, node: 'n1', id: 'n1.none' })).toBeNull();
      expect(await getTask(redis.connection, { prefix, node: 'n2', id: 'n1.a' })).toBeNull();
      await loadScripts(redis.connection);
      const p = redis.connection.pipeline();
      queueGetTask(p, { prefix, node: 'n1', id: 'n1.a' });
      const [err, reply] = (await p.exec())![0]!;
      expect(err).toBeNull();
      expect(parseTaskJob(reply)).toEqual(a);
    } finally {
      await q.close();
    }
  });

  it('cancelTask: a waiting task is cancelled once; a started one and an unknown one are told apart', async () => {
    const prefix = uniquePrefix('cancel');
    const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    try {
      await q.add('echo', {}, { jobId: 'n1.a' });
      await q.add('echo', {}, { jobId: 'n1.b' });
      expect(await cancelTask(redis.connection, { prefix, node: 'n1', id: 'n1.a', now: 5 })).toBe('cancelled');
      expect(JSON.parse((await redis.connection.hget(groupKeys(prefix, 'n1').cancelled, 'n1.a'))!)).toMatchObject({ id: 'n1.a', type: 'echo', node: 'n1', cancelledAt: 5 });
      expect(await cancelTask(redis.connection, { prefix, node: 'n1', id: 'n1.a', now: 6 })).toBe('already-cancelled');
      expect(await cancelTask(redis.connection, { prefix, node: 'n1', id: 'n1.none', now: 6 })).toBe('not-found');
      await redis.connection.set(bullKey(prefix, nodeQueueName('n1'), 'n1.b:lock'), 'a-worker');
      expect(await cancelTask(redis.connection, { prefix, node: 'n1', id: 'n1.b', now: 6 })).toBe('not-cancellable');
      expect(await q.getJobCounts('wait')).toEqual({ wait: 1 });
    } finally {
      await q.close();
    }
  });

  it('cancelRunning: an active task is taken from its worker (its finish then refused); a finished, a waiting, a replica and an unknown one are told apart', async () => {
    const prefix = uniquePrefix('cancel-running');
    const queue = nodeQueueName('n1');
    const k = (x: string) => bullKey(prefix, queue, x);
    const q = new Queue(queue, { connection: redis.connection, prefix });
    // A worker that takes jobs by hand (getNextJob), named like a host's node Worker.
    const w = new Worker(queue, null, { connection: redis.connection, prefix, name: 'host-7', autorun: false });
    try {
      await q.add('echo', {}, { jobId: 'n1.a' });
      const a = (await w.getNextJob('tok-a', { block: false }))!;
      expect(a.id).toBe('n1.a');
      const res = await cancelRunning(redis.connection, { prefix, node: 'n1', id: 'n1.a', now: 9 });
      expect(res).toMatchObject({ outcome: 'cancelled', host: 'host-7' });
      const tomb = JSON.parse((await redis.connection.hget(groupKeys(prefix, 'n1').cancelled, 'n1.a'))!);
      expect(tomb).toMatchObject({ id: 'n1.a', type: 'echo', node: 'n1', cancelledAt: 9, wasRunning: true, host: 'host-7', startedAt: expect.any(Number) });
      expect(await redis.connection.exists(k('n1.a'), k('n1.a:lock'))).toBe(0);
      expect(await redis.connection.lpos(k('active'), 'n1.a')).toBeNull();
      // The worker's finish comes too late: refused, nothing recorded.
      await expect(a.moveToCompleted('a result', 'tok-a', false)).rejects.toThrow(/Missing key for job n1\.a/);
      expect(await redis.connection.zscore(k('completed'), 'n1.a')).toBeNull();
      expect(await cancelRunning(redis.connection, { prefix, node: 'n1', id: 'n1.a', now: 10 })).toMatchObject({ outcome: 'already-cancelled' });

      await q.add('echo', {}, { jobId: 'n1.b' });
      const b = (await w.getNextJob('tok-b', { block: false }))!;
      await b.moveToCompleted('done', 'tok-b', false);
      expect(await cancelRunning(redis.connection, { prefix, node: 'n1', id: 'n1.b', now: 11 })).toEqual({ outcome: 'finished', state: 'completed' });
      expect(await redis.connection.hexists(groupKeys(prefix, 'n1').cancelled, 'n1.b')).toBe(0);

      await q.add('echo', {}, { jobId: 'n1.c' });
      expect(await cancelRunning(redis.connection, { prefix, node: 'n1', id: 'n1.c', now: 12 })).toEqual({ outcome: 'not-active' });
      const c = (await w.getNextJob('tok-c', { block: false }))!;
      await redis.connection.hset(k('n1.c'), 'sqReplicaOf', 'r-x');
      expect(await cancelRunning(redis.connection, { prefix, node: 'n1', id: 'n1.c', now: 12 })).toEqual({ outcome: 'replica' });
      expect(await redis.connection.lpos(k('active'), 'n1.c')).toBe(0);
      expect(await cancelRunning(redis.connection, { prefix, node: 'n1', id: 'n1.c', now: 12, replica: true })).toMatchObject({ outcome: 'cancelled' });
      expect(c.id).toBe('n1.c');
      expect(await cancelRunning(redis.connection, { prefix, node: 'n1', id: 'n1.none', now: 13 })).toEqual({ outcome: 'not-found' });
    } finally {
      await w.close();
      await q.close();
    }
  });

  it('recoverJobs: hands back the dead host\'s active jobs only, lock gone, stall counted', async () => {
    const prefix = uniquePrefix('recover');
    const queue = nodeQueueName('n1');
    const k = (s: string) => bullKey(prefix, queue, s);
    await redis.connection.rpush(k('active'), 'j1', 'j2');
    await redis.connection.hset(k('j1'), 'pb', 'dead-host', 'name', 'echo');
    await redis.connection.hset(k('j2'), 'pb', 'live-host', 'name', 'echo');
    await redis.connection.set(k('j1:lock'), 'tok');
    expect(await recoverJobs(redis.connection, { prefix, queue, hostId: 'dead-host', maxStalledCount: 1 })).toEqual(['j1']);
    expect(await redis.connection.lrange(k('active'), 0, -1)).toEqual(['j2']);
    expect(await redis.connection.lrange(k('wait'), 0, -1)).toEqual(['j1']);
    expect(await redis.connection.exists(k('j1:lock'))).toBe(0);
    expect(await redis.connection.hget(k('j1'), 'stc')).toBe('1');
    expect(await recoverJobs(redis.connection, { prefix, queue, hostId: 'nobody', maxStalledCount: 1 })).toEqual([]);
  });

  it('claimParked: claims a waiting parked task for a node once, and refuses a deposed leader', async () => {
    const prefix = uniquePrefix('unpark');
    const q = new Queue(nodeQueueName(PARKED_NODE), { connection: redis.connection, prefix });
    try {
      await q.add('echo', {}, { jobId: 'parked.a' });
      await q.add('echo', {}, { jobId: 'parked.b' });
      const g = groupKeys(prefix, PARKED_NODE);
      expect(await claimParked(redis.connection, { prefix, jobId: 'parked.a', target: 'n3', token: 2 })).toBe('claimed');
      expect(await redis.connection.hget(g.moved, 'parked.a')).toBe('n3');
      expect(await redis.connection.smembers(g.unparking)).toEqual(['parked.a']);
      expect(await claimParked(redis.connection, { prefix, jobId: 'parked.a', target: 'n3', token: 2 })).toBe('gone');
      expect(await claimParked(redis.connection, { prefix, jobId: 'parked.b', target: 'n3', token: 1 })).toBe('stale');
      expect(await redis.connection.get(g.fence)).toBe('2');
      expect(await q.getJobCounts('wait')).toEqual({ wait: 1 });
    } finally {
      await q.close();
    }
  });

  it('raiseCounter: raises the node sequence or a queue\'s job ids, never lowers them, alone or in a MULTI', async () => {
    const prefix = uniquePrefix('raise');
    await raiseCounter(redis.connection, { prefix, counter: { of: 'nodes' }, atLeast: 7 });
    await raiseCounter(redis.connection, { prefix, counter: { of: 'nodes' }, atLeast: 3 });
    expect(await redis.connection.get(swarmKeys(prefix).nodeSeq)).toBe('7');
    const m = redis.connection.multi();
    queueRaiseCounter(m, { prefix, counter: { of: 'jobs', queue: INTAKE_QUEUE }, atLeast: 12 });
    queueRaiseCounter(m, { prefix, counter: { of: 'nodes' }, atLeast: 9 });
    expect((await m.exec())!.map(([e]) => e)).toEqual([null, null]);
    expect(await redis.connection.get(bullKey(prefix, INTAKE_QUEUE, 'id'))).toBe('12');
    expect(await redis.connection.get(swarmKeys(prefix).nodeSeq)).toBe('9');
  });

  it('readSwarm: the roster, the node queues and their jobs, in one reply', async () => {
    const prefix = uniquePrefix('read');
    await registerAgents(redis.connection, { prefix, maxAgentsPerNode: 5, now: 1, agents: [agent('a')] });
    const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    try {
      await q.add('echo', { x: 1 }, { jobId: 'n1.a' });
      await redis.connection.hset(groupKeys(prefix, 'n1').moved, 'n2.z', 'n1');
      const raw = await readSwarm(redis.connection, { prefix, includeFinished: false, consensus: { queue: CONSENSUS_QUEUE, proposalJobName: 'proposal', roundKeyHead: `${prefix}:round:` } });
      expect(raw.nodeSeq).toBe(1);
      expect(Object.keys(raw.agents)).toEqual(['a']);
      expect(Math.abs(raw.time - Date.now())).toBeLessThan(5000);
      expect(raw.groups.find((g) => g.group === 'g1')?.moved).toEqual({ 'n2.z': 'n1' });
      const n1 = raw.queues.find((x) => x.name === nodeQueueName('n1'))!;
      expect(n1.wait).toEqual(['n1.a']);
      expect(n1.jobs.get('n1.a')).toMatchObject({ name: 'echo', data: '{"x":1}' });
      expect(raw.queues.map((x) => x.name)).toEqual(expect.arrayContaining([nodeQueueName(PARKED_NODE), INTAKE_QUEUE, DEAD_LETTER_QUEUE]));
      expect(raw.consensus.queue.name).toBe(CONSENSUS_QUEUE);
    } finally {
      await q.close();
    }
  });
  it('reportProgress: only the lock holder sets the progress field and adds a BullMQ-shaped progress event; a missing job is gone', async () => {
    const prefix = uniquePrefix('progress');
    const queue = nodeQueueName('n1');
    const id = 'n1.AAAAAAAAAAAA';
    const k = (s: string) => bullKey(prefix, queue, s);
    await redis.connection.hset(k(id), 'name', 'llm', 'data', '{}');
    await redis.connection.set(k(`${id}:lock`), 'tok-1');
    const r = { prefix, queue, id, json: '{"tokens":3}' };
    expect(await reportProgress(redis.connection, { ...r, token: 'tok-1' })).toBe('recorded');
    expect(await redis.connection.hget(k(id), 'progress')).toBe('{"tokens":3}');
    const events = (await redis.connection.xrange(k('events'), '-', '+')) as [string, string[]][];
    expect(events.map(([, f]) => f)).toEqual([['event', 'progress', 'jobId', id, 'data', '{"tokens":3}']]);
    // Another attempt holds the lock now (or none does): nothing is written.
    expect(await reportProgress(redis.connection, { ...r, token: 'tok-0', json: '"stale"' })).toBe('not-holder');
    await redis.connection.del(k(`${id}:lock`));
    expect(await reportProgress(redis.connection, { ...r, token: 'tok-1', json: '"late"' })).toBe('not-holder');
    expect(await redis.connection.hget(k(id), 'progress')).toBe('{"tokens":3}');
    expect(await redis.connection.xlen(k('events'))).toBe(1);
    expect(await reportProgress(redis.connection, { ...r, id: 'n1.BBBBBBBBBBBB', token: 'tok-1' })).toBe('gone');
  });

  it('awaitApproval: only the lock holder of an active job parks it delayed until the deadline, with its record, round and index entry; nothing else is written', async () => {
    const prefix = uniquePrefix('await');
    const queue = nodeQueueName('n12');
    const id = 'n12.AAAAAAAAAAAA';
    const k = (s: string) => bullKey(prefix, queue, s);
    const index = awaitingApprovalKey(prefix, queue);
    expect(index).toBe(groupKeys(prefix, 'n12').awaitingApproval);
    await redis.connection.hset(k(id), 'name', 'write', 'data', '{}', 'atm', '0');
    await redis.connection.rpush(k('active'), id);
    await redis.connection.set(k(`${id}:lock`), 'tok-1');
    await redis.connection.sadd(k('stalled'), id);
    const r = { prefix, queue, node: 'n12', id, now: 1_000, deadline: 61_000, awaiting: '{"output":1}', round: 1 };
    expect(await awaitApproval(redis.connection, { ...r, token: 'tok-0' })).toBe('not-holder');
    expect(await redis.connection.zcard(k('delayed'))).toBe(0);
    expect(await awaitApproval(redis.connection, { ...r, id: 'n12.BBBBBBBBBBBB', token: 'tok-1' })).toBe('gone');
    expect(await awaitApproval(redis.connection, { ...r, token: 'tok-1' })).toBe('awaiting');
    expect(await redis.connection.hmget(k(id), 'sqAwaiting', 'sqRound', 'sqDecision', 'delay', 'atm')).toEqual(['{"output":1}', '1', '', '60000', '0']);
    expect(await redis.connection.exists(k(`${id}:lock`))).toBe(0);
    expect(await redis.connection.lpos(k('active'), id)).toBeNull();
    expect(await redis.connection.sismember(k('stalled'), id)).toBe(0);
    // BullMQ reads the score as the deadline (times 0x1000), and idle workers wake then.
    expect(Number(await redis.connection.zscore(k('delayed'), id))).toBe(61_000 * 0x1000);
    expect(await redis.connection.zscore(k('marker'), '1')).toBe('61000');
    expect(await redis.connection.zrange(index, '0', '-1', 'WITHSCORES')).toEqual([`n12 ${id}`, '61000']);
    const events = (await redis.connection.xrange(k('events'), '-', '+')) as [string, string[]][];
    expect(events.map(([, f]) => f)).toEqual([['event', 'awaiting-approval', 'jobId', id, 'deadline', '61000']]);
    // Its lock is gone: a second park by the same holder is refused (not-holder), one of a job not running too.
    expect(await awaitApproval(redis.connection, { ...r, token: 'tok-1' })).toBe('not-holder');
    await redis.connection.set(k(`${id}:lock`), 'tok-2');
    expect(await awaitApproval(redis.connection, { ...r, token: 'tok-2' })).toBe('not-active');
  });

  it('decideApproval: records a decision only on an output that awaits, before its deadline, on the round named; sends the job to the head of its wait list', async () => {
    const prefix = uniquePrefix('decide');
    const queue = nodeQueueName('n3');
    const k = (s: string) => bullKey(prefix, queue, s);
    const index = awaitingApprovalKey(prefix, queue);
    const park = async (id: string, deadline: number, round = 1) => {
      await redis.connection.hset(k(id), 'name', 'write', 'data', '{}');
      await redis.connection.rpush(k('active'), id);
      await redis.connection.set(k(`${id}:lock`), 't');
      expect(await awaitApproval(redis.connection, { prefix, queue, node: 'n3', id, token: 't', now: 0, deadline, awaiting: '{}', round })).toBe('awaiting');
    };
    const a = 'n3.AAAAAAAAAAAA';
    const b = 'n3.BBBBBBBBBBBB';
    await park(a, 10_000);
    await park(b, 10_000, 2);
    await redis.connection.rpush(k('wait'), 'n3.CCCCCCCCCCCC');
    const decide = (id: string, o: { now?: number; round?: number; decision?: string } = {}) =>
      decideApproval(redis.connection, { prefix, queue, node: 'n3', id, now: o.now ?? 5_000, round: o.round ?? 1, decision: o.decision ?? '{"decision":"approved"}' });
    expect(await decide('n3.DDDDDDDDDDDD')).toEqual({ outcome: 'not-found' });
    expect(await decide(b)).toEqual({ outcome: 'changed', round: 2 });
    expect(await decide(a, { now: 10_000 })).toEqual({ outcome: 'expired', deadline: 10_000 });
    expect(await redis.connection.hget(k(a), 'sqDecision')).toBe('');
    expect(await decide(a)).toEqual({ outcome: 'decided' });
    expect(await redis.connection.hmget(k(a), 'sqDecision', 'sqDecisions', 'delay')).toEqual(['{"decision":"approved"}', '{"decision":"approved"}', '0']);
    expect(await redis.connection.zscore(k('delayed'), a)).toBeNull();
    // At the head: the Worker takes it next, before the task that was waiting.
    expect(await redis.connection.lrange(k('wait'), 0, -1)).toEqual(['n3.CCCCCCCCCCCC', a]);
    expect(await redis.connection.zscore(k('marker'), '0')).toBe('0');
    expect(await redis.connection.zrange(index, '0', '-1')).toEqual([`n3 ${b}`]);
    expect(await decide(a, { decision: '{"decision":"rejected"}' })).toEqual({ outcome: 'already-decided', decision: '{"decision":"approved"}' });
    // Promoted at its deadline (out of the delayed set, as BullMQ does): no decision is taken any more.
    await redis.connection.zrem(k('delayed'), b);
    expect(await decide(b, { round: 2 })).toEqual({ outcome: 'not-awaiting' });
    const events = ((await redis.connection.xrange(k('events'), '-', '+')) as [string, string[]][]).map(([, f]) => f).filter((f) => f[3] === a);
    expect(events.slice(1)).toEqual([
      ['event', 'approval-decided', 'jobId', a, 'data', '{"decision":"approved"}'],
      ['event', 'waiting', 'jobId', a, 'prev', 'delayed'],
    ]);
  });
});
