// Checkpoints carry consensus (format version 2): proposals of the consensus
// queue and their rounds' durable state go from one Redis to another, a decided
// proposal's outcome stays readable, a queued one decides on the new swarm, a
// version-1 file still restores, and a malformed consensus section is refused
// with its field path before anything is written. Real redis-servers, in-process
// agent hosts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { AgentHost } from '../../src/agents/host.ts';
import { restoreFromFile } from '../../src/checkpoint/cli.ts';
import { CHECKPOINT_FORMAT, parseCheckpoint, type Checkpoint } from '../../src/checkpoint/format.ts';
import { takeCheckpoint } from '../../src/checkpoint/read.ts';
import { restoreCheckpoint } from '../../src/checkpoint/restore.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { consensusKeys } from '../../src/consensus/runtime/keys.ts';
import { SwarmError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { nodeQueueName } from '../../queues/keys.ts';
import { uniquePrefix } from '../support/redis.ts';
import { twoRedisForFile } from '../support/twoRedis.ts';
import { testConfig, until } from '../support/swarm.ts';

const servers = twoRedisForFile('swarmq-checkpoint-consensus-');
const { dir, cleanups, connect } = servers;

async function startHost(config: ReturnType<typeof testConfig>, hostId: string, count = 4): Promise<AgentHost> {
  const host = new AgentHost({ config, hostId, agents: [{ type: 'voter', count }], processors: builtinProcessors, logger: silentLogger, control: false });
  await host.start();
  cleanups.push(() => host.stop(100));
  return host;
}

function consensus(url: string, prefix: string): Consensus {
  const c = new Consensus({ redis: url, prefix });
  cleanups.push(() => c.close());
  return c;
}

/** A round's three hashes and whether each expires. */
async function roundOf(redis: Redis, prefix: string, id: string) {
  const k = consensusKeys(prefix);
  const read = async (key: string) => ({ fields: await redis.hgetall(key), expires: (await redis.pttl(key)) > 0 });
  return { state: await read(k.state(id)), decided: await read(k.decided(id)), rejected: await read(k.rejected(id)) };
}

describe('checkpoints carry consensus', () => {
  let prefix: string;
  let decided: string;
  let queued: string;
  let checkpoint: Checkpoint;

  it('a decided and a queued proposal come along: job data, round hashes and the outcome', async () => {
    const config = testConfig(servers.a);
    prefix = config.prefix;
    const host = await startHost(config, 'cv');
    const voters = host.agents().map((ag) => ag.id);
    const driven = consensus(servers.a.url, prefix);
    await driven.drive();
    const outcome = await driven.propose({ protocol: 'pbft', value: { release: '2.0' }, participants: voters, timeoutMs: 20_000 });
    expect(outcome).toMatchObject({ decided: true, value: { release: '2.0' } });
    decided = outcome.id;
    await driven.close(); // no driver from here on: the next proposal's job stays queued

    const idle = consensus(servers.a.url, prefix);
    // Its time limit runs from when it is made: long enough for the restore and the new swarm below.
    queued = (await idle.submit({ protocol: 'raft', value: { leader: 'any' }, participants: voters.slice(0, 3), timeoutMs: 120_000 })).id;
    const redisA = connect(servers.a.url);
    // The proposer tells the hosts the round began, so its agents run it with no driver: its round is persisted, its job still waits.
    await until(async () => (await redisA.hlen(consensusKeys(prefix).decided(queued))) >= 3, 20_000, 'the queued round to be decided by all three agents');
    const before = { decided: await idle.get(decided), queued: await idle.get(queued), round: await roundOf(redisA, prefix, decided) };
    expect(before.queued!.state).toBe('waiting');
    expect(Object.keys(before.round.decided.fields).length).toBeGreaterThanOrEqual(2);

    const taken = await takeCheckpoint(redisA, prefix, { includeFinished: true });
    checkpoint = parseCheckpoint(JSON.stringify(taken.checkpoint)); // the file round trip validates it
    expect(checkpoint.version).toBe(3);
    expect(checkpoint.consensus.proposals.map((p) => [p.id, p.state])).toEqual([
      [queued, 'waiting'],
      [decided, 'completed'],
    ]);
    expect(checkpoint.consensus.rounds.map((r) => r.round).sort()).toEqual([decided, queued].sort());
    // Without includeFinished, only the queued proposal.
    const unfinishedOnly = (await takeCheckpoint(redisA, prefix)).checkpoint.consensus;
    expect(unfinishedOnly.proposals.map((p) => p.id)).toEqual([queued]);
    expect(unfinishedOnly.rounds.map((r) => r.round)).toEqual([queued]);

    // Restored into a fresh Redis.
    const redisB = connect(servers.b.url);
    const report = await restoreCheckpoint(redisB, prefix, checkpoint);
    expect(report.consensus).toEqual({ proposals: 1, finishedProposals: 1, rounds: 2, skipped: 0, skippedRounds: 0 });
    const onB = consensus(servers.b.url, prefix);
    for (const id of [decided, queued]) {
      const [jobA, jobB] = await Promise.all([idle.proposals.getJob(id), onB.proposals.getJob(id)]);
      expect(jobB!.data, `${id}: job data`).toEqual(jobA!.data);
      expect(jobB!.timestamp).toBe(jobA!.timestamp);
    }
    const after = { decided: await onB.get(decided), queued: await onB.get(queued), round: await roundOf(redisB, prefix, decided) };
    expect(after.round).toEqual(before.round);
    expect(await roundOf(redisB, prefix, queued)).toEqual(await roundOf(redisA, prefix, queued));
    expect(after.decided).toEqual(before.decided); // completed, with the same outcome
    expect(after.queued).toEqual(before.queued);
    expect(await redisB.pttl(consensusKeys(prefix).decided(decided))).toBeLessThanOrEqual(await redisA.pttl(consensusKeys(prefix).decided(decided)) + 1000);
  }, 60_000);

  it('the queued proposal decides on the restored swarm once its host and a driver start there', async () => {
    const configB = testConfig(servers.b, { prefix });
    await startHost(configB, 'cv'); // the same host id and agents, with new keys
    const driver = consensus(servers.b.url, prefix);
    await driver.drive();
    const view = await until(async () => {
      const v = await driver.get(queued);
      return v?.state === 'completed' ? v : undefined;
    }, 30_000, 'the restored proposal to decide');
    expect(view.outcome).toMatchObject({ decided: true, value: { leader: 'any' }, participants: 3 });
  }, 60_000);

  it('a round caught mid-way resumes on the restored swarm from its persisted state', async () => {
    // PBFT among 4 (f = 1): with the 2 agents of host hy gone, the 2 of hx pre-prepare and
    // prepare but cannot commit. The checkpoint catches the proposal active, its round persisted.
    const config = testConfig(servers.a);
    const hx = await startHost(config, 'hx', 2);
    const hy = await startHost(config, 'hy', 2);
    const participants = [...hx.agents(), ...hy.agents()].map((ag) => ag.id);
    const proposer = consensus(servers.a.url, config.prefix);
    const id = (await proposer.submit({ protocol: 'pbft', value: 'resume-me', participants, timeoutMs: 60_000 })).id;
    await hy.stop(100);
    await proposer.drive();
    const redisA = connect(servers.a.url);
    const k = consensusKeys(config.prefix);
    await until(async () => (await redisA.hlen(k.state(id))) === 2, 10_000, 'both agents of hx to persist their part of the round');
    const { checkpoint: cp } = await takeCheckpoint(redisA, config.prefix);
    expect(cp.consensus.proposals).toMatchObject([{ id, state: 'active' }]);
    expect(Object.keys(cp.consensus.rounds[0]!.state!.fields).sort()).toEqual(hx.agents().map((ag) => ag.id).sort());
    expect(cp.consensus.rounds[0]!.decided).toBeUndefined();

    const target = uniquePrefix('resume');
    const redisB = connect(servers.b.url);
    await restoreCheckpoint(redisB, target, parseCheckpoint(JSON.stringify(cp)));
    expect(await redisB.hgetall(k.state(id).replace(config.prefix, target))).toEqual(await redisA.hgetall(k.state(id)));
    const configB = testConfig(servers.b, { prefix: target });
    const onB = consensus(servers.b.url, target);
    expect((await onB.get(id))!.state).toBe('waiting');
    await startHost(configB, 'hx', 2);
    await startHost(configB, 'hy', 2);
    await onB.drive();
    const view = await until(async () => {
      const v = await onB.get(id);
      return v?.state === 'completed' ? v : undefined;
    }, 30_000, 'the resumed round to decide');
    expect(view.outcome).toMatchObject({ decided: true, value: 'resume-me' });
    // On A, hy comes back too, so the round ends there as well and its driver closes promptly.
    await startHost(config, 'hy', 2);
    await until(async () => (await proposer.get(id))?.state === 'completed', 30_000, 'the round on A to end');
  }, 90_000);

  it('replicated tasks are not carried, neither parent nor replicas, and the checkpoint names them', async () => {
    const config = testConfig(servers.a);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const host = new AgentHost({ config, hostId: 'hr', agents: [{ type: 'voter', count: 3 }], processors: { ...builtinProcessors, slow: async () => gate.then(() => 'done') }, logger: silentLogger, control: false });
    await host.start();
    cleanups.push(async () => {
      release();
      await host.stop(100);
    });
    const client = new SwarmClient({ redis: servers.a.url, prefix: config.prefix, config: { coordinator: { snapshotIntervalMs: 20 } } });
    cleanups.push(() => client.close());
    const { id } = await client.submit({ type: 'slow', payload: null, consensus: { protocol: 'quorum', replicas: 2 } });
    await until(async () => (await client.get(id))?.consensus?.phase === 'replicas', 10_000, 'the replicas to run');
    const { checkpoint: cp, warnings } = await takeCheckpoint(connect(servers.a.url), config.prefix, { includeFinished: true });
    expect(cp.consensus.proposals).toEqual([]);
    expect(cp.tasks).toEqual([]); // its replicas, running or waiting in node queues, are left out with it
    expect(warnings).toContain(`consensus: replicated task ${id} is not carried (nor its replicas): submit it again after the restore`);
    expect(warnings.filter((w) => w.includes(`a replica of replicated task ${id}`))).toHaveLength(2);
  });

  it('a round whose proposal is already in the target is left as it is (--force)', async () => {
    const redisB = connect(servers.b.url);
    const k = consensusKeys(prefix);
    const before = await redisB.hgetall(k.state(queued));
    expect(Object.keys(before).length).toBeGreaterThan(0);
    const withRound: Checkpoint = {
      ...checkpoint,
      consensus: { ...checkpoint.consensus, rounds: [...checkpoint.consensus.rounds.filter((r) => r.round !== queued), { round: queued, state: { fields: Object.fromEntries(Object.keys(before).map((ag) => [ag, '{"stale":true}'])), ttlMs: null } }] },
    };
    const report = await restoreCheckpoint(redisB, prefix, parseCheckpoint(JSON.stringify(withRound)), { force: true });
    expect(report.consensus).toMatchObject({ proposals: 0, finishedProposals: 0, rounds: 0, skipped: 2, skippedRounds: 2 });
    expect(await redisB.hgetall(k.state(queued))).toEqual(before);
  });

  it('a version-1 file still restores (with no consensus)', async () => {
    const v1 = {
      format: CHECKPOINT_FORMAT,
      version: 1,
      createdAt: 1_000,
      prefix: 'old',
      includesFinished: false,
      roster: { nodeSeq: 1, agents: [], nodes: [{ id: 'n1', seq: 1, queue: nodeQueueName('n1'), profile: '[]', members: 0, createdAt: 1 }] },
      queues: [],
      groups: [],
      idempotency: [],
      tasks: [{ queue: nodeQueueName('n1'), id: 'n1.v1', state: 'waiting', name: 'work', data: { payload: 1 }, opts: { attempts: 1 }, timestamp: 1_000, priority: 0, attemptsMade: 0, attemptsStarted: 0, stalledCounter: 0, fields: {} }],
      finished: [],
    };
    const file = join(dir, 'v1.json');
    writeFileSync(file, JSON.stringify(v1));
    const target = uniquePrefix('v1');
    const summary = await restoreFromFile(testConfig(servers.b, { prefix: target }), file);
    expect(summary).toMatch(/1 unfinished task .*0 proposals/);
    expect(await connect(servers.b.url).lrange(`${target}:${nodeQueueName('n1')}:wait`, 0, -1)).toEqual(['n1.v1']);
    // A version-1 file with a consensus section is refused: version 1 had none.
    expect(() => parseCheckpoint(JSON.stringify({ ...v1, consensus: { paused: false, proposals: [], rounds: [] } }))).toThrow(/Unrecognized key.*consensus|consensus/);
  });

  it('a malformed consensus section is refused with the field path, and nothing is written', async () => {
    const agent = checkpoint.consensus.rounds[0]!.decided!.fields;
    const someAgent = Object.keys(agent)[0]!;
    const cases: [string, (c: Checkpoint['consensus']) => void, RegExp][] = [
      ['a decision that is not one', (c) => (c.rounds[0]!.decided!.fields[someAgent] = '{"value":"x"}'), new RegExp(`consensus\\.rounds\\.0\\.decided\\.fields\\.${someAgent}: not a decision`)],
      ['a spec without participants', (c) => (c.proposals[0]!.spec.participants = []), /consensus\.proposals\.0\.spec\.participants: /],
      ['an unknown protocol', (c) => ((c.proposals[1]!.spec as { protocol: string }).protocol = 'paxos'), /consensus\.proposals\.1\.spec\.protocol: /],
      ['a round with no proposal', (c) => (c.rounds[0]!.round = 'p-gone'), /consensus\.rounds\.0\.round: no proposal p-gone/],
      ['a spec of another round', (c) => (c.proposals[0]!.spec.id = 'p-other'), /consensus\.proposals\.0\.spec\.id: the spec names round p-other/],
      ['a voter that is not a participant', (c) => (c.rounds[0]!.state!.fields['intruder'] = '{}'), /consensus\.rounds\.0\.state\.fields\.intruder: intruder is not a participant/],
      ['a completed proposal without its result', (c) => delete (c.proposals[1] as { result?: unknown }).result, /consensus\.proposals\.1\.result: a completed proposal needs its result/],
      ['an unknown state', (c) => ((c.proposals[0] as { state: string }).state = 'stuck'), /consensus\.proposals\.0\.state: /],
      ['a field this swarmq does not know', (c) => ((c as Record<string, unknown>).votes = []), /consensus: Unrecognized key/],
    ];
    const redisB = connect(servers.b.url);
    for (const [what, spoil, error] of cases) {
      const bad = structuredClone(checkpoint);
      spoil(bad.consensus);
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify(bad));
      const target = uniquePrefix('bad');
      const err = await restoreFromFile(testConfig(servers.b, { prefix: target }), file).catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(SwarmError);
      expect((err as SwarmError).code, what).toBe('invalid_request');
      expect((err as SwarmError).message, what).toMatch(error);
      expect(await redisB.keys(`${target}:*`), `${what}: nothing written`).toEqual([]);
    }
  });
});
