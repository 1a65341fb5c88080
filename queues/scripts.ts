// Our Lua commands, named like BullMQ's (`<name>-<numberOfKeys>.lua`), run with
// EVALSHA and loaded on NOSCRIPT, so a Redis restart or failover costs one retry.
// Code shared between commands sits in commands/includes/ and is pulled in, as
// in BullMQ, by a line `--- @include "includes/<name>"`, resolved when loading.
// A command that only reads runs with EVALSHA_RO (Redis 7): Redis then asks
// only read access to its keys of the caller's ACL user, so a producer that
// reads the published loads need not be able to write them.
// Callers never use these directly: each command has one typed wrapper beside
// this file (getTask.ts, …) that owns its keys, arguments and reply.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis, ChainableCommander } from 'ioredis';
// BullMQ's commands as it loads them (name, Lua with its includes resolved, number of keys): see resolveBullmq.
// One module per command, imported by its file: BullMQ's scripts/index.js imports its
// siblings without extensions, which plain Node's ESM loader refuses (a built package failed).
import { addStandardJob } from 'bullmq/dist/esm/scripts/addStandardJob-9.js';
import { addPrioritizedJob } from 'bullmq/dist/esm/scripts/addPrioritizedJob-9.js';
import { moveToActive } from 'bullmq/dist/esm/scripts/moveToActive-11.js';
import { moveToFinished } from 'bullmq/dist/esm/scripts/moveToFinished-14.js';
import { moveStalledJobsToWait } from 'bullmq/dist/esm/scripts/moveStalledJobsToWait-9.js';

/** BullMQ's commands our scripts may run (`--- @bullmq "<name>"`), as the installed BullMQ ships them. */
const bullmqScripts: Record<string, { name?: string; content?: string } | undefined> = { addStandardJob, addPrioritizedJob, moveToActive, moveToFinished, moveStalledJobsToWait };
import { ensureConnected } from './connection.ts';
import { isCluster } from './redisTarget.ts';

type RedisArg = string | number | Buffer;

export interface LuaCommand {
  name: string;
  numberOfKeys: number;
  /** Run it now. */
  run(redis: Redis | Cluster, keys: readonly string[], args: readonly RedisArg[]): Promise<unknown>;
  /** Queue it on a pipeline or MULTI (the script must already be loaded: call `load` once). */
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly RedisArg[]): void;
  /** Queue it with its whole text (EVAL), for a MULTI: a NOSCRIPT there fails that one command and cannot be retried. */
  queueWithText(pipeline: ChainableCommander, keys: readonly string[], args: readonly RedisArg[]): void;
  load(redis: Redis | Cluster): Promise<void>;
}

const INCLUDE_LINE = /^--- @include "([A-Za-z0-9_/-]+)"[ \t]*$/.source;

/**
 * Replaces each `--- @include "<path>"` line with the file `<path>.lua` (read by
 * `read`, relative to commands/), itself resolved the same way. A file is
 * included once however many times it is named (BullMQ's rule too), so two
 * includes may share a third; a cycle is an error, since it cannot be meant.
 */
export function resolveIncludes(source: string, read: (path: string) => string, where = 'the script'): string {
  const done = new Set<string>();
  const resolve = (text: string, chain: readonly string[]): string =>
    text.replace(new RegExp(INCLUDE_LINE, 'gm'), (_line, path: string) => {
      if (chain.includes(path)) throw new Error(`Lua include cycle: ${[...chain, path].join(' -> ')} (in ${where})`);
      if (done.has(path)) return `-- (${path} included above)`;
      done.add(path);
      let body: string;
      try {
        body = read(path);
      } catch (err) {
        throw new Error(`${where} includes "${path}", which could not be read: ${(err as Error).message}`);
      }
      return resolve(body, [...chain, path]).trimEnd();
    });
  return resolve(source, []);
}

const BULLMQ_LINE = /^--- @bullmq "([A-Za-z]+)"[ \t]*$/gm;

/**
 * Replaces a line `--- @bullmq "<command>"` with that BullMQ command's own Lua,
 * as the installed BullMQ loads it (its includes resolved), so one of our
 * scripts can run BullMQ's step unchanged beside its own (addKeyed-13.lua wraps
 * it in a function of its own KEYS and ARGV). Taken from the installed package
 * at load, never copied: an upgraded BullMQ brings its own.
 */
export function resolveBullmq(source: string, where = 'the script'): string {
  return source.replace(BULLMQ_LINE, (_line, name: string) => {
    const found = bullmqScripts[name];
    if (typeof found?.content !== 'string') throw new Error(`${where} runs BullMQ's "${name}", which the installed BullMQ does not have`);
    return found.content.trimEnd();
  });
}

function readCommandFile(path: string): string {
  return readFileSync(new URL(`./commands/${path}.lua`, import.meta.url), 'utf8');
}

function command(name: string, numberOfKeys: number, access: 'reads' | 'writes' = 'writes'): LuaCommand {
  const file = `${name}-${numberOfKeys}`;
  const lua = resolveBullmq(resolveIncludes(readCommandFile(file), readCommandFile, `${file}.lua`), `${file}.lua`);
  const sha = createHash('sha1').update(lua).digest('hex');
  const check = (keys: readonly string[]) => {
    if (keys.length !== numberOfKeys) throw new Error(`${name} takes ${numberOfKeys} keys, got ${keys.length}`);
  };
  const ro = access === 'reads';
  return {
    name,
    numberOfKeys,
    async run(redis, keys, args) {
      check(keys);
      try {
        return await (ro ? redis.evalsha_ro(sha, keys.length, ...keys, ...args) : redis.evalsha(sha, keys.length, ...keys, ...args));
      } catch (err) {
        if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
        return await (ro ? redis.eval_ro(lua, keys.length, ...keys, ...args) : redis.eval(lua, keys.length, ...keys, ...args));
      }
    },
    queue(pipeline, keys, args) {
      check(keys);
      if (ro) pipeline.evalsha_ro(sha, keys.length, ...keys, ...args);
      else pipeline.evalsha(sha, keys.length, ...keys, ...args);
    },
    queueWithText(pipeline, keys, args) {
      check(keys);
      if (ro) pipeline.eval_ro(lua, keys.length, ...keys, ...args);
      else pipeline.eval(lua, keys.length, ...keys, ...args);
    },
    async load(redis) {
      // SCRIPT LOAD names no key: a Cluster would send it to any one master, and EVALSHA goes to the key's.
      if (isCluster(redis)) await ensureConnected(redis); // its masters are known once it is ready
      const servers = isCluster(redis) ? redis.nodes('master') : [redis];
      await Promise.all(servers.map((s) => s.script('LOAD', lua)));
    },
  };
}

/** Loads every command (a pipeline of EVALSHAs needs them loaded: it cannot fall back to EVAL). */
export async function loadScripts(redis: Redis | Cluster): Promise<void> {
  if (isCluster(redis)) await ensureConnected(redis); // once, not once per script while it connects
  await Promise.all(Object.values(scripts).map((s) => s.load(redis)));
}

export const scripts = {
  registerAgents: command('registerAgents', 4),
  deregisterAgents: command('deregisterAgents', 3),
  getTask: command('getTask', 9, 'reads'),
  cancelTask: command('cancelTask', 9),
  cancelRunning: command('cancelRunning', 9),
  cancelReplicated: command('cancelReplicated', 16),
  moveJobs: command('moveJobs', 12),
  acquireLease: command('acquireLease', 3),
  raiseFence: command('raiseFence', 1),
  claimParked: command('claimParked', 6),
  claimCrossMove: command('claimCrossMove', 7),
  landCrossMove: command('landCrossMove', 10),
  finishCrossMove: command('finishCrossMove', 2),
  recoverJobs: command('recoverJobs', 6),
  claimReplicaSeat: command('claimReplicaSeat', 1),
  readSwarm: command('readSwarm', 0, 'reads'),
  readSwarmState: command('readSwarmState', 1, 'reads'),
  readSlot: command('readSlot', 1, 'reads'),
  raiseCounter: command('raiseCounter', 1),
  readLoads: command('readLoads', 2, 'reads'),
  keepLoads: command('keepLoads', 1),
  stageBatch: command('stageBatch', 3),
  claimBatches: command('claimBatches', 1),
  joinCoordinators: command('joinCoordinators', 2),
  acquirePartition: command('acquirePartition', 2),
  isolateHost: command('isolateHost', 6),
  reportProgress: command('reportProgress', 4),
  awaitApproval: command('awaitApproval', 9),
  decideApproval: command('decideApproval', 8),
  fairTag: command('fairTag', 5),
  addKeyed: command('addKeyed', 13),
  admitKeyed: command('admitKeyed', 6),
  releaseKeyed: command('releaseKeyed', 3),
  leaseKeyed: command('leaseKeyed', 6),
  renewKeyed: command('renewKeyed', 1),
  holdKey: command('holdKey', 1),
  readKey: command('readKey', 6, 'reads'),
  recordUsage: command('recordUsage', 4),
  checkBudget: command('checkBudget', 5),
  readBudget: command('readBudget', 4, 'reads'),
  addTaskUsage: command('addTaskUsage', 1),
  restoreBudget: command('restoreBudget', 3),
  writeBudget: command('writeBudget', 3),
  takeIntake: command('takeIntake', 11),
  finishIntake: command('finishIntake', 15),
  landIntake: command('landIntake', 15),
  intakeStalled: command('intakeStalled', 9),
};
