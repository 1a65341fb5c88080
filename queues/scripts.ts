// Our Lua commands, named like BullMQ's (`<name>-<numberOfKeys>.lua`), run with
// EVALSHA and loaded on NOSCRIPT, so a Redis restart or failover costs one retry.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis, ChainableCommander } from 'ioredis';

type RedisArg = string | number | Buffer;

export interface LuaCommand {
  name: string;
  numberOfKeys: number;
  /** Run it now. */
  run(redis: Redis | Cluster, keys: readonly string[], args: readonly RedisArg[]): Promise<unknown>;
  /** Queue it on a pipeline or MULTI (the script must already be loaded: call `load` once). */
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly RedisArg[]): void;
  load(redis: Redis | Cluster): Promise<void>;
}

function command(name: string, numberOfKeys: number): LuaCommand {
  const lua = readFileSync(new URL(`./commands/${name}-${numberOfKeys}.lua`, import.meta.url), 'utf8');
  const sha = createHash('sha1').update(lua).digest('hex');
  const check = (keys: readonly string[]) => {
    if (keys.length !== numberOfKeys) throw new Error(`${name} takes ${numberOfKeys} keys, got ${keys.length}`);
  };
  return {
    name,
    numberOfKeys,
    async run(redis, keys, args) {
      check(keys);
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
        return await redis.eval(lua, keys.length, ...keys, ...args);
      }
    },
    queue(pipeline, keys, args) {
      check(keys);
      pipeline.evalsha(sha, keys.length, ...keys, ...args);
    },
    async load(redis) {
      await redis.script('LOAD', lua);
    },
  };
}

export const scripts = {
  registerAgents: command('registerAgents', 4),
  deregisterAgents: command('deregisterAgents', 3),
  getTask: command('getTask', 9),
  cancelTask: command('cancelTask', 9),
  moveJobs: command('moveJobs', 12),
  acquireLease: command('acquireLease', 3),
  raiseFence: command('raiseFence', 1),
  claimParked: command('claimParked', 6),
  recoverJobs: command('recoverJobs', 6),
  claimReplicaSeat: command('claimReplicaSeat', 1),
};
