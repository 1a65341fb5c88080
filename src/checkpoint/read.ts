// The imperative shell of `swarmq checkpoint`: one Lua script reads the swarm.
//
// Why one script: a checkpoint must be a single point in time. Read piece by
// piece, a task moving between two reads (a steal from n1 to n2, a parked task
// claimed for a node, a job going from wait to active) would be read twice or
// not at all, and the roster could name a node whose queue was read before it
// existed. A MULTI/EXEC cannot do it here because what to read next depends on
// what was read (the queues come from the node sequence, the job hashes from the
// lists); a script is atomic and can. Redis runs nothing else meanwhile, so the
// script's length is the pause every client sees: proportional to the unfinished
// tasks (and, with includeFinished, the finished ones kept).
//
// It computes key names from the prefix rather than taking them as KEYS, so it
// runs on a single Redis (as the coordinator, hosts and client do today), not
// across a Cluster's slots.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CONSENSUS_QUEUE, DEAD_LETTER_QUEUE, INTAKE_QUEUE, nodeQueueName, PARKED_NODE, SLOT_GROUP_SIZE, swarmKeys } from '../../queues/keys.ts';
import { consensusKeys } from '../consensus/runtime/keys.ts';
import { PROPOSAL_JOB, type RawConsensus } from './consensusSnapshot.ts';
import type { Checkpoint } from './format.ts';
import type { RawQueue } from './rawQueue.ts';
import { snapshotToCheckpoint, type RawGroup, type RawIdempotencyKey, type RawSnapshot } from './snapshot.ts';

export const READ_SWARM_LUA = `
--[[
  Reads everything a swarmq checkpoint carries, in one atomic step.
  ARGV[1] prefix   ARGV[2] nodes per slot group   ARGV[3] '1': completed and failed jobs too
  ARGV[4] parked queue name   ARGV[5] intake queue name   ARGV[6] consensus queue name
  ARGV[7] a proposal's job name   ARGV[8] round keys' head (<head><round>:state)
  ARGV[9..] other queues to read (dead-letter)
  Returns { TIME, node-seq, agents (flat), nodes (flat), groups, queues, consensus }:
    group: { name, moved (flat), cancelled (flat) }
    queue: { name, paused 0/1, wait, active, paused list, prioritized, delayed (id, score, ...),
             completed (id, score, ...), failed (id, score, ...), unparking ids,
             jobs (id, hash (flat), ...), intake mappings (job id, task id, pttl, ...) }
    consensus: { queue (as above), waiting-children ids,
                 rounds: { id, state (flat), pttl, decided (flat), pttl, rejected (flat), pttl } }
]]
local rcall = redis.call
local prefix, groupSize, withFinished = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local parkedQueue, intakeQueue = ARGV[4], ARGV[5]
local consensusQueue, proposalName, roundHead = ARGV[6], ARGV[7], ARGV[8]
local swarm = prefix .. ':{swarm}:'

local time = rcall('TIME')
local nodeSeq = tonumber(rcall('GET', swarm .. 'node-seq') or '0') or 0
local agents = rcall('HGETALL', swarm .. 'agents')
local nodes = rcall('HGETALL', swarm .. 'nodes')

-- Every queue a node ever had (nodes are numbered 1..node-seq; the queue name is
-- nodeQueueName's, numbers printed as registerAgents prints them), any other the
-- nodes hash names, the parked, intake and dead-letter queues.
local queues, queueSeen = {}, {}
local function addQueue(name)
  if type(name) == 'string' and name ~= '' and not queueSeen[name] then
    queueSeen[name] = true
    queues[#queues + 1] = name
  end
end
for seq = 1, nodeSeq do
  addQueue(string.format('node-{g%d}-n%d', math.floor((seq - 1) / groupSize) + 1, seq))
end
for i = 2, #nodes, 2 do
  local ok, rec = pcall(cjson.decode, nodes[i])
  if ok and type(rec) == 'table' then addQueue(rec.queue) end
end
addQueue(parkedQueue)
addQueue(intakeQueue)
for i = 9, #ARGV do addQueue(ARGV[i]) end

local groups, groupSeen, unparkingOf = {}, {}, {}
for _, q in ipairs(queues) do
  local g = string.match(q, '{([^}]+)}')
  if g and not groupSeen[g] then
    groupSeen[g] = true
    local base = prefix .. ':{' .. g .. '}:'
    unparkingOf[g] = rcall('SMEMBERS', base .. 'unparking')
    groups[#groups + 1] = { g, rcall('HGETALL', base .. 'moved'), rcall('HGETALL', base .. 'cancelled') }
  end
end

local function readQueue(q)
  local k = prefix .. ':' .. q .. ':'
  local paused = rcall('HEXISTS', k .. 'meta', 'paused')
  local wait = rcall('LRANGE', k .. 'wait', 0, -1)
  local active = rcall('LRANGE', k .. 'active', 0, -1)
  local pausedList = rcall('LRANGE', k .. 'paused', 0, -1)
  local prioritized = rcall('ZRANGE', k .. 'prioritized', 0, -1)
  local delayed = rcall('ZRANGE', k .. 'delayed', 0, -1, 'WITHSCORES')
  local completed, failed = {}, {}
  if withFinished then
    completed = rcall('ZRANGE', k .. 'completed', 0, -1, 'WITHSCORES')
    failed = rcall('ZRANGE', k .. 'failed', 0, -1, 'WITHSCORES')
  end
  local unparking = {}
  if q == parkedQueue then unparking = unparkingOf[string.match(q, '{([^}]+)}') or ''] or {} end
  local jobs, seen = {}, {}
  local function read(id)
    if not seen[id] then
      seen[id] = true
      jobs[#jobs + 1] = id
      jobs[#jobs + 1] = rcall('HGETALL', k .. id)
    end
  end
  for _, list in ipairs({ active, wait, pausedList, prioritized, unparking }) do
    for _, id in ipairs(list) do read(id) end
  end
  for _, set in ipairs({ delayed, completed, failed }) do
    for i = 1, #set, 2 do read(set[i]) end
  end
  local intake = {}
  if q == intakeQueue then
    for i = 1, #jobs, 2 do
      local key = swarm .. 'intake:' .. jobs[i]
      local taskId = rcall('GET', key)
      if taskId then
        intake[#intake + 1] = jobs[i]
        intake[#intake + 1] = taskId
        intake[#intake + 1] = rcall('PTTL', key)
      end
    end
  end
  return { q, paused, wait, active, pausedList, prioritized, delayed, completed, failed, unparking, jobs, intake }
end

local out = {}
for _, q in ipairs(queues) do out[#out + 1] = readQueue(q) end

-- The consensus queue, and each proposal's round hashes in the same step, so a
-- round's state and its proposal's job are of one moment. Replicated tasks'
-- parents still waiting for their replicas sit in waiting-children: only their
-- ids, to name them as not carried.
local cq = readQueue(consensusQueue)
local waitingChildren = rcall('ZRANGE', prefix .. ':' .. consensusQueue .. ':waiting-children', 0, -1)
local rounds, cjobs = {}, cq[11]
for i = 1, #cjobs, 2 do
  local id = cjobs[i]
  if rcall('HGET', prefix .. ':' .. consensusQueue .. ':' .. id, 'name') == proposalName then
    local r = { id }
    for _, h in ipairs({ 'state', 'decided', 'rejected' }) do
      local key = roundHead .. id .. ':' .. h
      r[#r + 1] = rcall('HGETALL', key)
      r[#r + 1] = rcall('PTTL', key)
    end
    rounds[#rounds + 1] = r
  end
end
return { time, nodeSeq, agents, nodes, groups, out, { cq, waitingChildren, rounds } }
`;

const READ_SWARM_SHA = createHash('sha1').update(READ_SWARM_LUA).digest('hex');

type Reply = unknown[];

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const flatHash = (v: unknown): Record<string, string> => {
  const a = strings(v);
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < a.length; i += 2) h[a[i]!] = a[i + 1]!;
  return h;
};
const pairs = (v: unknown): [string, string][] => {
  const a = strings(v);
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < a.length; i += 2) out.push([a[i]!, a[i + 1]!]);
  return out;
};

function parseQueue(q: unknown): RawQueue {
  const [name, paused, wait, active, pausedList, prioritized, delayed, completed, failed, unparking, jobs, intake] = q as unknown[];
  const jobMap = new Map<string, Record<string, string>>();
  const flatJobs = Array.isArray(jobs) ? jobs : [];
  for (let i = 0; i + 1 < flatJobs.length; i += 2) jobMap.set(String(flatJobs[i]), flatHash(flatJobs[i + 1]));
  const intakeTasks = new Map<string, { taskId: string; pttl: number }>();
  const flatIntake = Array.isArray(intake) ? intake : [];
  for (let i = 0; i + 2 < flatIntake.length; i += 3) intakeTasks.set(String(flatIntake[i]), { taskId: String(flatIntake[i + 1]), pttl: Number(flatIntake[i + 2]) });
  return {
    name: String(name),
    paused: Number(paused) === 1,
    wait: strings(wait),
    active: strings(active),
    pausedList: strings(pausedList),
    prioritized: strings(prioritized),
    delayed: pairs(delayed),
    completed: pairs(completed),
    failed: pairs(failed),
    unparking: strings(unparking),
    jobs: jobMap,
    intakeTasks,
  };
}

function parseConsensus(c: unknown): RawConsensus {
  const [queue, waitingChildren, rounds] = c as [unknown, unknown, unknown[]];
  return {
    queue: parseQueue(queue),
    waitingChildren: strings(waitingChildren),
    rounds: (rounds ?? []).map((r) => {
      const [round, state, statePttl, decided, decidedPttl, rejected, rejectedPttl] = r as unknown[];
      const hash = (fields: unknown, pttl: unknown) => ({ fields: flatHash(fields), pttl: Number(pttl) });
      return { round: String(round), state: hash(state, statePttl), decided: hash(decided, decidedPttl), rejected: hash(rejected, rejectedPttl) };
    }),
  };
}

/** The script's reply as typed raw values (no decoding of records or jobs: that is the pure core's). */
export function parseReadReply(reply: Reply): RawSnapshot {
  const [time, nodeSeq, agents, nodes, groups, queues, consensus] = reply as [unknown, unknown, unknown, unknown, unknown[], unknown[], unknown];
  const [sec, usec] = strings(time);
  const rawGroups: RawGroup[] = (groups ?? []).map((g) => {
    const [name, moved, cancelled] = g as [unknown, unknown, unknown];
    return { group: String(name), moved: flatHash(moved), cancelled: flatHash(cancelled) };
  });
  return {
    time: Number(sec) * 1000 + Math.floor(Number(usec) / 1000),
    nodeSeq: Number(nodeSeq) || 0,
    agents: flatHash(agents),
    nodes: flatHash(nodes),
    groups: rawGroups,
    queues: (queues ?? []).map(parseQueue),
    consensus: parseConsensus(consensus),
  };
}

async function runReadScript(redis: Redis, prefix: string, includeFinished: boolean): Promise<Reply> {
  // The round keys' head from consensusKeys itself (`<head><round>:state`), so the script cannot drift from it.
  const roundHead = consensusKeys(prefix).state('').replace(/:state$/, '');
  const args = [prefix, SLOT_GROUP_SIZE, includeFinished ? '1' : '0', nodeQueueName(PARKED_NODE), INTAKE_QUEUE, CONSENSUS_QUEUE, PROPOSAL_JOB, roundHead, DEAD_LETTER_QUEUE];
  try {
    return (await redis.evalsha(READ_SWARM_SHA, 0, ...args)) as Reply;
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
    return (await redis.eval(READ_SWARM_LUA, 0, ...args)) as Reply;
  }
}

/** Every idempotency key of the swarm with the task it names and its PTTL, read with SCAN (never blocking Redis). */
async function readIdempotencyKeys(redis: Redis, prefix: string): Promise<RawIdempotencyKey[]> {
  const out: RawIdempotencyKey[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', swarmKeys(prefix).idempotency('*'), 'COUNT', 1000);
    cursor = next;
    if (!keys.length) continue;
    const p = redis.pipeline();
    for (const k of keys) p.get(k).pttl(k);
    const res = (await p.exec()) ?? [];
    keys.forEach((key, i) => {
      const [gErr, taskId] = res[2 * i] ?? [null, null];
      const [tErr, pttl] = res[2 * i + 1] ?? [null, -2];
      if (gErr || tErr) throw gErr ?? tErr;
      out.push({ key, taskId: (taskId as string | null) ?? null, pttl: Number(pttl) });
    });
  } while (cursor !== '0');
  return out;
}

export interface TakeCheckpointOptions {
  includeFinished?: boolean;
}

/** Reads the swarm under `prefix` as one point in time and returns it as a checkpoint, with what could not be carried. */
export async function takeCheckpoint(redis: Redis, prefix: string, o: TakeCheckpointOptions = {}): Promise<{ checkpoint: Checkpoint; warnings: string[] }> {
  const includeFinished = o.includeFinished ?? false;
  const raw = parseReadReply(await runReadScript(redis, prefix, includeFinished));
  const idem = await readIdempotencyKeys(redis, prefix);
  return snapshotToCheckpoint(raw, idem, { prefix, includeFinished });
}
