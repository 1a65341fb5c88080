// A hostile or hand-made checkpoint cannot break the swarm it is restored into:
// restore refuses names swarmq and BullMQ would never have made (a job named
// after one of its queue's own keys, a queue that is not one of swarmq's task
// queues, a node sequence past what swarmq names), says which entry and field,
// and writes nothing. A file of names swarmq does make restores, and the intake
// queue still takes plain BullMQ producers' jobs afterwards.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { restoreFromFile } from '../../src/checkpoint/cli.ts';
import type { Checkpoint, FinishedTask } from '../../src/checkpoint/format.ts';
import { restoreCheckpoint } from '../../src/checkpoint/restore.ts';
import { SwarmError } from '../../src/errors.ts';
import { CONSENSUS_QUEUE, DEAD_LETTER_QUEUE, INTAKE_QUEUE, MAX_NODE_SEQ, controlQueueName, nodeQueueName } from '../../queues/keys.ts';
import { emptyCheckpoint, unfinishedTask as task } from '../support/checkpointData.ts';
import { uniquePrefix } from '../support/redis.ts';
import { twoRedisForFile } from '../support/twoRedis.ts';
import { dump, testConfig } from '../support/swarm.ts';

const servers = twoRedisForFile('swarmq-checkpoint-refusals-');
const { dir, connect } = servers;

const node = (seq: number) => ({ id: `n${seq}`, seq, queue: nodeQueueName(`n${seq}`), profile: '[]', members: 0, createdAt: 1 });

const finished = (over: Partial<FinishedTask> = {}): FinishedTask => ({
  queue: INTAKE_QUEUE,
  id: '7',
  state: 'completed',
  finishedOn: 2_000,
  hash: { name: 'work', data: '{}', opts: '{}', timestamp: '1000', finishedOn: '2000', returnvalue: '{}' },
  ...over,
});

/** A file that includes finished tasks, of a swarm with node n1. */
const checkpoint = (over: Partial<Checkpoint> = {}): Checkpoint =>
  emptyCheckpoint({ includesFinished: true, roster: { nodeSeq: 1, agents: [], nodes: [node(1)] }, ...over });

let files = 0;

/** Restores `cp` through the file path `swarmq restore` takes; the error, and what the target holds after. */
async function refused(cp: unknown): Promise<{ message: string; keys: Record<string, string> }> {
  const file = join(dir, `cp-${++files}.json`);
  writeFileSync(file, JSON.stringify(cp));
  const config = testConfig(servers.b);
  const err = await restoreFromFile(config, file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the restore should have been refused').toBeInstanceOf(SwarmError);
  expect((err as SwarmError).code).toBe('invalid_request');
  return { message: (err as SwarmError).message, keys: await dump(connect(servers.b.url), config.prefix) };
}

describe('restore refuses a checkpoint that names what swarmq never makes', () => {
  it('a finished intake task named after a key of the intake queue ("id", "meta", …): refused, nothing written', async () => {
    for (const id of ['id', 'meta', 'wait', 'events', 'marker', 'stalled-check', 'de', 'metrics:completed:data']) {
      const { message, keys } = await refused(checkpoint({ finished: [finished({ id })] }));
      expect(message, id).toMatch(/finished\.0\.id: .*BullMQ's own keys of queue \{intake\}/);
      expect(keys).toEqual({});
    }
  });

  it('an unfinished task named after a key of its queue: refused', async () => {
    const { message, keys } = await refused(checkpoint({ tasks: [task(), task({ id: 'paused' }), task({ queue: INTAKE_QUEUE, id: 'id' })] }));
    expect(message).toMatch(/tasks\.1\.id: "paused" names one of BullMQ's own keys/);
    expect(message).toMatch(/tasks\.2\.id: "id" names one of BullMQ's own keys/);
    expect(keys).toEqual({});
  });

  it('ids BullMQ would never have issued: refused', async () => {
    const bad = checkpoint({
      tasks: [
        task({ id: '12' }), // a node queue never uses BullMQ's counter
        task({ id: 'n1.a:b:c' }), // swarmq's ids have no ':'
        task({ queue: INTAKE_QUEUE, id: '-1' }),
      ],
      finished: [finished({ id: '99999999999999999999' })], // would set the intake queue's counter past what INCR takes
    });
    const { message, keys } = await refused(bad);
    expect(message).toMatch(/tasks\.0\.id: "12" is not a job id swarmq gives/);
    expect(message).toMatch(/tasks\.1\.id: "n1\.a:b:c" is not a job id swarmq gives/);
    expect(message).toMatch(/tasks\.2\.id: "-1" is not a job id BullMQ gives or takes/);
    expect(message).toMatch(/finished\.0\.id: job id 99999999999999999999 is beyond any BullMQ job counter/);
    expect(keys).toEqual({});
  });

  it("queues that are not swarmq's task queues: a host's control queue, the consensus queue, a node past the roster", async () => {
    const spawn = task({ queue: controlQueueName('h1'), id: 'spawn-1', name: 'spawn', data: { type: 'w', count: 1_000_000 } });
    const { message, keys } = await refused(
      checkpoint({
        queues: [{ name: controlQueueName('h1'), paused: true }],
        tasks: [spawn, task({ queue: CONSENSUS_QUEUE, id: 'p-1' }), task({ queue: nodeQueueName('n5'), id: 'n5.x' })],
        finished: [finished({ queue: 'bull' })],
      }),
    );
    expect(message).toMatch(/queues\.0\.name: "control-\{h1\}" is not one of swarmq's task queues/);
    expect(message).toMatch(/tasks\.0\.queue: "control-\{h1\}" is not one of swarmq's task queues/);
    expect(message).toMatch(/tasks\.1\.queue: "consensus-\{swarm\}" is not one of swarmq's task queues/);
    expect(message).toMatch(/tasks\.2\.queue: node n5 is beyond roster\.nodeSeq \(1\)/);
    expect(message).toMatch(/finished\.0\.queue: "bull" is not one of swarmq's task queues/);
    expect(keys).toEqual({});
  });

  it('a node sequence past what swarmq names (Lua would call the next node n1e+14), or a node record named otherwise: refused', async () => {
    const big = await refused(checkpoint({ roster: { nodeSeq: 99_999_999_999_999, agents: [], nodes: [node(1)] } }));
    expect(big.message).toMatch(new RegExp(`roster\\.nodeSeq: at most ${MAX_NODE_SEQ}`));
    expect(big.keys).toEqual({});
    const badNodes = await refused(
      checkpoint({
        roster: {
          nodeSeq: 3,
          agents: [],
          nodes: [node(1), { ...node(2), id: 'n1e+14' }, { ...node(3), queue: INTAKE_QUEUE }],
        },
      }),
    );
    expect(badNodes.message).toMatch(/roster\.nodes\.1\.id: node 2 is named n2, not "n1e\+14"/);
    expect(badNodes.message).toMatch(/roster\.nodes\.2\.queue: node n3's queue is node-\{g1\}-n3, not "\{intake\}"/);
    expect(badNodes.keys).toEqual({});
  });

  it('task ids, moves and groups that name no node of the roster: refused', async () => {
    const { message, keys } = await refused(
      checkpoint({
        groups: [
          { group: 'g1', moved: { 'n1.a': 'h1' }, cancelled: [] },
          { group: 'swarm', moved: {}, cancelled: [] },
        ],
        idempotency: [{ key: 'k', taskId: 'control-h1.x', ttlMs: null }],
        tasks: [task({ queue: INTAKE_QUEUE, id: '3', intakeTask: { taskId: 'n9.x', ttlMs: null } }), task({ intakeTask: { taskId: 'n1.y', ttlMs: null } })],
      }),
    );
    expect(message).toMatch(/groups\.0\.moved\.n1\.a: "h1" is not a node id/);
    expect(message).toMatch(/groups\.1\.group: "swarm" is not a slot group/);
    expect(message).toMatch(/idempotency\.0\.taskId: "control-h1" is not a node id/);
    expect(message).toMatch(/tasks\.0\.intakeTask\.taskId: node n9 is beyond roster\.nodeSeq/);
    expect(message).toMatch(/tasks\.1\.intakeTask: only an intake job has an intakeTask/);
    expect(keys).toEqual({});
  });

  it('restoreCheckpoint called from code checks the checkpoint too, and writes nothing', async () => {
    const prefix = uniquePrefix('ck');
    const redis = connect(servers.b.url);
    const err = await restoreCheckpoint(redis, prefix, checkpoint({ finished: [finished({ id: 'id' })] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwarmError);
    expect((err as SwarmError).message).toMatch(/finished\.0\.id: "id" names one of BullMQ's own keys/);
    expect(await dump(redis, prefix)).toEqual({});
  });
});

describe('restore takes the names swarmq and BullMQ do make', () => {
  it("counter ids, custom and repeat ids in intake, swarmq's ids elsewhere; producers' adds still work after", async () => {
    const prefix = uniquePrefix('ck');
    const redis = connect(servers.b.url);
    const cp = checkpoint({
      roster: { nodeSeq: 2, agents: [], nodes: [node(1), node(2)] },
      groups: [{ group: 'g1', moved: { 'n1.m': 'n2' }, cancelled: [] }],
      idempotency: [{ key: 'order-1', taskId: 'parked.k', ttlMs: null }],
      tasks: [
        task({ id: 'n1.abc' }),
        task({ queue: nodeQueueName('n2'), id: 'n1.m' }),
        task({ queue: nodeQueueName('parked'), id: 'parked.k' }),
        task({ queue: DEAD_LETTER_QUEUE, id: 'n1.dead' }),
        task({ queue: INTAKE_QUEUE, id: '9', intakeTask: { taskId: 'n2.q', ttlMs: null } }),
        task({ queue: INTAKE_QUEUE, id: 'order-7' }),
        task({ queue: INTAKE_QUEUE, id: 'repeat:nightly:1700000000000' }),
      ],
      finished: [finished({ id: '7' }), finished({ queue: nodeQueueName('n1'), id: 'n1.done' })],
    });
    const report = await restoreCheckpoint(redis, prefix, cp);
    expect(report).toMatchObject({ finished: 2, skippedFinished: 0, renamed: 1 });
    const intake = new Queue(INTAKE_QUEUE, { connection: redis, prefix });
    try {
      // BullMQ's counter is a counter still: a plain producer's add works and does not reuse a carried id.
      expect(Number((await intake.add('work', {})).id)).toBeGreaterThan(7);
      expect(await intake.getJob('order-7')).toMatchObject({ name: 'work' });
    } finally {
      await intake.close();
    }
  });
});
