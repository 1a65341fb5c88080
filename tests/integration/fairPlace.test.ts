// Where a keyed task's add puts it (addKeyed-13.lua with includes/fairPlace.lua),
// read straight from the node queue's lists in Redis: on an idle node it stays
// in the wait list, as a task without a key would; once anything waits before
// it, it gets its tag in the fair order (the prioritized set's keyed half).
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addKeyed } from '../../queues/addKeyed.ts';
import { bullKey, keyStateKeys, nodeQueueName } from '../../queues/keys.ts';
import { loadScripts } from '../../queues/scripts.ts';
import { bullmqAddOf } from '../../src/keys/keyedAdd.ts';
import { redisForFile } from '../support/redis.ts';

const redis = redisForFile();
const KEYED = 2 ** 31;
let queue: Queue;
let prefix: string;
const node = 'n1';

beforeAll(async () => {
  prefix = `${redis.prefix}-fair`;
  await loadScripts(redis.connection);
  queue = new Queue(nodeQueueName(node), { connection: redis.connection, prefix });
});
afterAll(async () => {
  await queue.close();
});

const waitList = () => redis.connection.lrange(bullKey(prefix, nodeQueueName(node), 'wait'), 0, -1);
const keyedScores = async () => {
  const flat = await redis.connection.zrangebyscore(bullKey(prefix, nodeQueueName(node), 'prioritized'), KEYED, 2 * KEYED - 1, 'WITHSCORES');
  const out: Record<string, number> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = Number(flat[i + 1]) - KEYED;
  return out;
};

async function add(id: string, key: string, inc = 1000): Promise<number> {
  // Data as a task's envelope: its key is there too.
  const bull = bullmqAddOf(queue, { id, name: 'work', data: { payload: { id }, key }, opts: { jobId: id } });
  if (!bull) throw new Error('BullMQ built no add');
  const r = await addKeyed(redis.connection, { prefix, node, id, key, inc, bullmq: bull.args, waitingKey: keyStateKeys(prefix, key).waiting });
  expect(r.added).toBe(id);
  return r.tag;
}

describe("a keyed task's place on its node", () => {
  it('on an idle node it stays in the wait list; once one waits before it, tasks get tags by key', async () => {
    expect(await add('a1', 'big')).toBe(0);
    expect(await waitList()).toEqual(['a1']);
    expect(await keyedScores()).toEqual({});
    // It counts as waiting for its key, as a placed one does; it is not marked placed (its key is in its envelope).
    expect(await redis.connection.zscore(keyStateKeys(prefix, 'big').waiting, 'a1')).not.toBeNull();
    expect(await redis.connection.hget(bullKey(prefix, nodeQueueName(node), 'a1'), 'sqKey')).toBeNull();

    // a1 waits: the next ones are placed.
    await add('a2', 'big');
    await add('a3', 'big');
    await add('a4', 'big');
    expect(await add('b1', 'small')).toBe(0);
    expect(await waitList()).toEqual(['a1']);
    // The small key's first task goes to the band's head, beside the big key's first placed one, not behind its backlog.
    expect(await keyedScores()).toEqual({ a2: 0, b1: 0, a3: 1000, a4: 2000 });
    expect(await redis.connection.hget(bullKey(prefix, nodeQueueName(node), 'a2'), 'sqKey')).toBe('big');
  });

  it('with the wait list empty but keyed tasks waiting in the band, a new one is still placed, not put before them', async () => {
    // a1 was taken (a worker's fetch pops the wait list).
    await redis.connection.lrem(bullKey(prefix, nodeQueueName(node), 'wait'), 1, 'a1');
    expect(await add('c1', 'third')).toBeGreaterThanOrEqual(0);
    expect(await waitList()).toEqual([]);
    expect(Object.keys(await keyedScores())).toContain('c1');
  });

  it('added to a paused node queue (BullMQ keeps it in the wait list, unannounced), it is placed and counts as waiting', async () => {
    await queue.pause();
    try {
      expect(await add('p1', 'paused-key')).toBeGreaterThanOrEqual(0);
      expect(Object.keys(await keyedScores())).toContain('p1');
      expect(await redis.connection.zscore(keyStateKeys(prefix, 'paused-key').waiting, 'p1')).not.toBeNull();
    } finally {
      await queue.resume();
    }
  });

  it('an add of an id that exists leaves it where it is', async () => {
    // Placed before: known by its mark.
    expect(await add('a2', 'big')).toBe(-1);
    expect((await keyedScores()).a2).toBe(0);
    // Taken as it came, and gone from the wait list since (a1 was fetched above): marked now, not placed again.
    expect(await add('a1', 'big')).toBe(-2);
    expect(await waitList()).toEqual([]);
    // Taken as it came and still waiting alone: left as it is.
    await redis.connection.del(bullKey(prefix, nodeQueueName(node), 'prioritized'));
    expect(await add('d1', 'd')).toBe(0);
    expect(await add('d1', 'd')).toBe(0);
    expect(await waitList()).toEqual(['d1']);
    // Taken as it came with nothing else waiting anywhere on the node: an add of its id again is known as one, and it is
    // not counted as waiting again.
    await redis.connection.lrem(bullKey(prefix, nodeQueueName(node), 'wait'), 1, 'd1');
    await redis.connection.zrem(keyStateKeys(prefix, 'd').waiting, 'd1');
    expect(await add('d1', 'd')).toBe(-2);
    expect(await redis.connection.zscore(keyStateKeys(prefix, 'd').waiting, 'd1')).toBeNull();
    expect(await waitList()).toEqual([]);
  });
});
