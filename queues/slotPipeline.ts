// A pipeline that works on a Redis Cluster too. ioredis refuses a Cluster
// pipeline whose keys live on different masters ("All keys in the pipeline
// should belong to the same slots allocation group"), and the swarm's reads
// span slot groups (every node queue's counts, a task's node and group keys).
// On one server this is the plain pipeline, unchanged. On a Cluster the
// commands are split by hash slot into one pipeline per slot, sent at once,
// and their replies put back in the order the commands were queued, so callers
// read replies by index as before. Only for reads and independent writes: the
// slots' pipelines are not atomic together (a MULTI across slots still fails).
import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander, Cluster } from 'ioredis';
import { isCluster, type RedisClient } from './redisTarget.ts';

/**
 * The hash slot of a key (of its hash tag, when it has one), computed as
 * ioredis's Cluster computes it, so each split pipeline is one ioredis accepts.
 * It differs from Redis only for an empty tag followed by another (`{}{x}`),
 * a name swarmq never makes.
 */
export function keySlot(key: string | Buffer): number {
  return calculateSlot(key);
}

/** Commands queued on the split pipeline that name no key: sent with the first slot's pipeline (any master answers them). */
const KEYLESS = new Set(['time', 'info', 'ping', 'dbsize']);
/** Commands whose first argument is not their key: the split pipeline cannot place them (XREAD: readStreams). */
const KEY_ELSEWHERE = new Set(['xread', 'xreadgroup', 'fcall', 'fcall_ro', 'bitop', 'object', 'memory', 'migrate']);
/** Scripts: `<script or sha> <numkeys> <keys…> <args…>`, placed by their first key. */
const SCRIPT = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro']);

function keyOf(c: Call): unknown {
  if (KEYLESS.has(c.name.toLowerCase())) return undefined;
  if (SCRIPT.has(c.name.toLowerCase())) return Number(c.args[1]) > 0 ? c.args[2] : undefined;
  return c.args[0];
}

type Reply = [Error | null, unknown];
type Call = { name: string; args: unknown[] };
type Dispatch = Record<string, (...args: unknown[]) => unknown>;

function splitPipeline(cluster: Cluster): ChainableCommander {
  const calls: Call[] = [];
  const exec = async (): Promise<Reply[] | null> => {
    const bySlot = new Map<number, number[]>();
    const keyless: number[] = [];
    calls.forEach((c, i) => {
      const key = keyOf(c);
      if (typeof key !== 'string' && !Buffer.isBuffer(key)) keyless.push(i);
      else {
        const slot = keySlot(key);
        bySlot.set(slot, [...(bySlot.get(slot) ?? []), i]);
      }
    });
    const groups = [...bySlot.values()];
    if (groups.length) groups[0]!.push(...keyless);
    else if (keyless.length) groups.push(keyless);
    const replies: Reply[] = new Array<Reply>(calls.length);
    await Promise.all(
      groups.map(async (indexes) => {
        const p = cluster.pipeline();
        // Each name was a method of ChainableCommander when it was queued (the proxy below forwards only those).
        for (const i of indexes) (p as unknown as Dispatch)[calls[i]!.name]!.call(p, ...calls[i]!.args);
        try {
          const got = (await p.exec()) ?? [];
          indexes.forEach((i, j) => (replies[i] = got[j] ?? [new Error('no reply'), null]));
        } catch (err) {
          for (const i of indexes) replies[i] = [err as Error, null];
        }
      }),
    );
    return replies;
  };
  // A stand-in with the pipeline's shape: each command method records its call; exec() sends them.
  const shape = cluster.pipeline() as unknown as Dispatch;
  const proxy: ChainableCommander = new Proxy({} as ChainableCommander, {
    get(_t, prop) {
      if (prop === 'exec') return exec;
      if (prop === 'length') return calls.length;
      if (typeof prop !== 'string' || typeof shape[prop] !== 'function') return undefined;
      return (...args: unknown[]) => {
        if (KEY_ELSEWHERE.has(prop.toLowerCase())) throw new Error(`slotPipeline: ${prop} does not take its key first; send it on its own (XREAD: readStreams)`);
        calls.push({ name: prop, args });
        return proxy;
      };
    },
  });
  return proxy;
}

/** A pipeline on `client`: the plain one on one server; split by slot on a Cluster. */
export function slotPipeline(client: RedisClient): ChainableCommander {
  return isCluster(client) ? splitPipeline(client) : client.pipeline();
}

/** What XREAD answers for each stream that had entries: the key and its [id, fields] entries. */
export type StreamReply = [key: string, entries: [id: string, fields: string[]][]];

/**
 * XREAD COUNT `count` of several streams, without blocking: one command on one
 * server; on a Cluster, where one command's keys must share a slot, one XREAD
 * per slot, sent together. The streams that had entries, as XREAD gives them.
 */
export async function readStreams(client: RedisClient, count: number, streams: readonly (readonly [key: string, after: string])[]): Promise<StreamReply[]> {
  if (!streams.length) return [];
  const args = (some: readonly (readonly [string, string])[]) => ['COUNT', count, 'STREAMS', ...some.map(([k]) => k), ...some.map(([, id]) => id)] as const;
  if (!isCluster(client)) return ((await client.xread(...args(streams))) as StreamReply[] | null) ?? [];
  const bySlot = new Map<number, (readonly [string, string])[]>();
  for (const s of streams) {
    const slot = keySlot(s[0]);
    const list = bySlot.get(slot);
    if (list) list.push(s);
    else bySlot.set(slot, [s]);
  }
  // Each XREAD is routed by its streams' slot; ioredis sends them at once.
  const replies = await Promise.all([...bySlot.values()].map((some) => client.xread(...args(some))));
  return replies.flatMap((r) => (r as StreamReply[] | null) ?? []);
}
