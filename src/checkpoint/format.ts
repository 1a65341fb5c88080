// The checkpoint file: one JSON document, checked with zod when it is read back,
// so a truncated, hand-edited or foreign file is refused with the field that is
// wrong (`tasks.3.attemptsMade: …`) before anything is written to Redis.
//
// What it carries, and what not, is stated in the file itself (`about`):
// - the roster: agents, nodes and the node sequence (so new nodes never reuse a
//   queue name that still holds work);
// - each slot group's `moved` and `cancelled` hashes (task lookup and tombstones);
// - every unfinished task of every node queue, the parked queue and the intake
//   queue: waiting, prioritized, delayed, paused and active ones, plus parked
//   tasks caught half-way to a node (`unparking`), and staged batch tasks not
//   yet added, as tasks of their node queues (the format is unchanged: version 2);
// - the dead-letter queue's records (waiting jobs there: it has no worker);
// - idempotency keys of the tasks it carries, with their remaining time;
// - (version 2) `consensus`: every unfinished proposal of the consensus queue,
//   and each carried round's persisted protocol state, decisions and rejection
//   counts (consensusFormat.ts);
// - (version 3) `keys`: every key the swarm lists, with the limits its own
//   limits hash holds (what its scripts enforce), and (optional fields, so
//   older version-3 files still read) its budget and the current period's
//   spend with that period's identity (budgetFormat.ts).
// A task's key and an output awaiting approval need no field of their own: the
// key is in the task's data (the envelope the host reads it from) and its job
// hash (`sqKey`), the awaiting output, its round and decisions in its job hash
// (`fields`), and the deadline is the delayed task's due time. The restore plan
// derives from them what a restore must rebuild (the key's waiting record and
// the task's place in its node's fair order, the awaiting-approval index), so
// files of versions 1 and 2 get them too.
// Not carried: completed and failed tasks and proposals (unless taken with
// includeFinished), replicated tasks, hosts and heartbeats, host connections,
// the lease and fences, recoveries, the events stream and stats, job logs and
// BullMQ's per-queue event streams.
//
// Versions: 1 had no consensus section; 2 added it; 3 added `keys`. All three
// are read (a version-1 file restores with no consensus, 1 and 2 with no key
// limits); only 3 is written. The top level is strict,
// so an older swarmq refuses a file it could not restore whole instead of
// dropping part of it.
import { z } from 'zod';
import { INTAKE_QUEUE, MAX_NODE_SEQ, nodeQueueName, PARKED_NODE } from '../../queues/keys.ts';
import { SwarmError } from '../errors.ts';
import { agentRecordSchema, cancelledRecordSchema, nodeRecordSchema } from '../swarm/records.ts';
import { issuesOf } from '../validation.ts';
import { keyLimitsSchema, keyNameSchema } from '../keys/limits.ts';
import { carriedBudgetSchema, carriedSpendSchema } from './budgetFormat.ts';
import { checkConsensusSection, consensusSectionSchema, emptyConsensus } from './consensusFormat.ts';
import { groupProblem, jobIdProblem, nodeIdProblem, queueProblem, taskIdProblem } from './names.ts';

export const CHECKPOINT_FORMAT = 'swarmq-checkpoint';
/** The version written. */
export const CHECKPOINT_VERSION = 3;
/** Every version read. */
export const CHECKPOINT_VERSIONS_READ = [1, 2, 3] as const;

export const CHECKPOINT_ABOUT =
  'A snapshot of a swarmq swarm (one atomic read on one Redis; on a Redis Cluster one read per hash slot, in which ' +
  'every task the swarm held when it began is carried exactly once): the roster (agents, nodes, node sequence), the moved and cancelled ' +
  'records of each slot group, every unfinished task (waiting, prioritized, delayed, paused, active; active ones ' +
  'restore as waiting because the agents running them are not in the new Redis, so they run again; tasks of batches ' +
  'staged but not yet in their queues are carried as tasks of those queues), the ' +
  "idempotency keys of those tasks and the dead-letter queue's records. " +
  'Consensus (`consensus`): every unfinished proposal (restored as waiting under its id, with its spec), and for each ' +
  "carried proposal its round's persisted protocol state, decisions and rejection counts with their remaining time, " +
  'so hosts resume the round where its agents left it; a proposal keeps its time limit, counted from when it was made. ' +
  'Keys (`keys`): every key the swarm lists, with its limits (maxActive, rate, weight); a keyed task carries its key in its ' +
  "data, and after a restore counts as waiting for it and takes its place in its node's fair order again. Not carried: " +
  "keys' running slots (active tasks run again and take a slot then), their rate windows' starts (a window starts empty) and " +
  'provider holds. A key with a budget carries it (`budget`), and a key with spend in the period current when taken carries that ' +
  'spend (`spent`: tokens, cost, reports, by task type, the alerts already fired) with the period it belongs to: a restore writes ' +
  'the spend back only while that period is still current on the target Redis, raising what is there and never lowering it. ' +
  "Not carried of budgets: earlier periods' spend, the all-time usage totals, and which tasks wait for the period to reset. A task whose output awaits approval is carried as a delayed task due at the approval's deadline, its output, " +
  'round and decisions in its job fields: after a restore it awaits approval again, is listed, and may be approved or rejected ' +
  'until that deadline. ' +
  'Completed and failed tasks and proposals are not carried unless `includesFinished` is true. ' +
  'Replicated tasks (ids r-…) are not carried, neither their parent job nor their replica jobs: their state is a BullMQ ' +
  "flow whose replicas' results live in the parent's dependency hashes and whose voters are named by the replica job " +
  'hashes and seat claims, and rebuilding that outside BullMQ could run a replica twice or lose one; the checkpoint ' +
  'warns about each one left out, to be submitted again. ' +
  'Hosts, heartbeats, host connections, the lease and fences, recoveries, the events stream and stats are not carried: ' +
  'hosts rejoin by starting again with the same --host-id and take their old seats.';

/** Where an unfinished task was when the checkpoint was taken. */
export const UNFINISHED_STATES = ['active', 'waiting', 'paused', 'prioritized', 'delayed', 'unparking'] as const;
export type UnfinishedState = (typeof UNFINISHED_STATES)[number];

const count = z.number().int().min(0);
const ms = z.number().int().min(0);
/** A BullMQ queue name as swarmq uses them: no ':' (it separates the parts of a key). */
const queueName = z.string().regex(/^[^:\s]+$/, 'a queue name without ":" or spaces');
const rawFields = z.record(z.string(), z.string());

export const unfinishedTaskSchema = z
  .object({
    /** The queue it sits in (not necessarily the node its id names: see the group's `moved`). */
    queue: queueName,
    id: z.string().min(1),
    state: z.enum(UNFINISHED_STATES),
    /** The task type (BullMQ job name). */
    name: z.string(),
    /** The job's data, decoded (a node job's data is swarmq's envelope `{ payload, timeoutMs?, affinity? }`). */
    data: z.unknown(),
    /** BullMQ JobsOptions as given at submit, decoded from the job hash (attempts, backoff, retention, …). */
    opts: z.record(z.string(), z.unknown()),
    /** When the task was created (ms); kept on restore, so ages and `createdAt` do not reset. */
    timestamp: ms,
    /** BullMQ priority, 0 for none. */
    priority: z.number().int().min(0).max(2_097_152),
    /** Delayed tasks: when they are due (ms since the epoch). */
    dueAt: ms.optional(),
    attemptsMade: count,
    attemptsStarted: count,
    stalledCounter: count,
    /** The other fields of the job hash, raw (the last failure of a task being retried, …). */
    fields: rawFields,
    /** Intake jobs whose routing had started: the task id it chose, so a re-run reuses it. */
    intakeTask: z.object({ taskId: z.string().min(1), ttlMs: z.number().int().positive().nullable() }).strict().optional(),
  })
  .strict();
export type UnfinishedTask = z.infer<typeof unfinishedTaskSchema>;

export const finishedTaskSchema = z
  .object({
    queue: queueName,
    id: z.string().min(1),
    state: z.enum(['completed', 'failed']),
    finishedOn: ms,
    /** The whole job hash, raw: written back as it was. */
    hash: rawFields,
  })
  .strict();
export type FinishedTask = z.infer<typeof finishedTaskSchema>;

const commonShape = {
  format: z.literal(CHECKPOINT_FORMAT),
  /** Redis' clock when the snapshot was read (ms). */
  createdAt: ms,
  /** The prefix it was taken from (restore may use another). */
  prefix: z.string(),
  /** What is carried and what not, for a reader of the file. */
  about: z.string().optional(),
  includesFinished: z.boolean(),
  roster: z
    .object({
      nodeSeq: count.max(MAX_NODE_SEQ, `at most ${MAX_NODE_SEQ}: swarmq names nodes up to n${MAX_NODE_SEQ}`),
      // loose: fields a newer swarmq adds to these records survive the round trip.
      agents: z.array(agentRecordSchema.loose()),
      nodes: z.array(nodeRecordSchema.loose()),
    })
    .strict(),
  queues: z.array(z.object({ name: queueName, paused: z.boolean() }).strict()),
  groups: z.array(
    z
      .object({
        /** A slot group: g<k>, or parked (names.ts checks it). */
        group: z.string(),
        moved: z.record(z.string(), z.string()),
        cancelled: z.array(cancelledRecordSchema.loose()),
      })
      .strict(),
  ),
  idempotency: z.array(z.object({ key: z.string().min(1), taskId: z.string().min(1), ttlMs: z.number().int().positive().nullable() }).strict()),
  tasks: z.array(unfinishedTaskSchema),
  finished: z.array(finishedTaskSchema),
};

type CommonPart = z.infer<z.ZodObject<typeof commonShape>>;

/**
 * (version 3) Every key the swarm lists, with its limits as its own limits hash
 * holds them ({}: none); its budget and the spend of the period current when
 * taken, when it has them (left out by files written before budgets were carried).
 */
export const keysSectionSchema = z.array(
  z.object({ key: keyNameSchema, limits: keyLimitsSchema, budget: carriedBudgetSchema.optional(), spent: carriedSpendSchema.optional() }).strict(),
);
export type KeysSection = z.infer<typeof keysSectionSchema>;

function checkKeysSection(keys: KeysSection, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  keys.forEach((k, i) => {
    if (seen.has(k.key)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'key'], message: `key ${k.key} appears twice` });
    seen.add(k.key);
  });
}

/**
 * Names a restore would write under, checked against what swarmq and BullMQ
 * make (names.ts): node records named as the registering script names them,
 * only swarmq's task queues, job ids that are jobs and not a queue's own keys,
 * task ids and moves that name nodes of this roster.
 */
function checkNames(cp: CommonPart, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string | undefined) => {
    if (message !== undefined) ctx.addIssue({ code: 'custom', path, message });
  };
  const { nodeSeq } = cp.roster;
  cp.roster.nodes.forEach((n, i) => {
    if (!Number.isInteger(n.seq) || n.seq < 1 || n.seq > MAX_NODE_SEQ) issue(['roster', 'nodes', i, 'seq'], `${n.seq} is not a node sequence number (1 to ${MAX_NODE_SEQ})`);
    else if (n.id !== `n${n.seq}`) issue(['roster', 'nodes', i, 'id'], `node ${n.seq} is named n${n.seq}, not "${n.id}"`);
    else if (n.queue !== nodeQueueName(n.id)) issue(['roster', 'nodes', i, 'queue'], `node ${n.id}'s queue is ${nodeQueueName(n.id)}, not "${n.queue}"`);
  });
  cp.queues.forEach((q, i) => issue(['queues', i, 'name'], queueProblem(q.name, nodeSeq)));
  cp.groups.forEach((g, i) => {
    issue(['groups', i, 'group'], groupProblem(g.group));
    for (const [taskId, node] of Object.entries(g.moved)) issue(['groups', i, 'moved', taskId], nodeIdProblem(node, nodeSeq));
  });
  cp.idempotency.forEach((k, i) => issue(['idempotency', i, 'taskId'], taskIdProblem(k.taskId, nodeSeq)));
  const parked = nodeQueueName(PARKED_NODE);
  const checkTask = (list: 'tasks' | 'finished', i: number, t: { queue: string; id: string }) => {
    const bad = queueProblem(t.queue, nodeSeq);
    issue([list, i, 'queue'], bad);
    if (bad === undefined) issue([list, i, 'id'], jobIdProblem(t.queue, t.id));
  };
  cp.tasks.forEach((t, i) => {
    checkTask('tasks', i, t);
    if (t.state === 'unparking' && t.queue !== parked) issue(['tasks', i, 'state'], `only a task of the parked queue (${parked}) is unparking`);
    if (t.intakeTask) {
      if (t.queue !== INTAKE_QUEUE) issue(['tasks', i, 'intakeTask'], `only an intake job has an intakeTask`);
      else issue(['tasks', i, 'intakeTask', 'taskId'], taskIdProblem(t.intakeTask.taskId, nodeSeq));
    }
  });
  cp.finished.forEach((t, i) => checkTask('finished', i, t));
}

function checkCommon(cp: CommonPart, ctx: z.RefinementCtx): void {
  const maxSeq = Math.max(0, ...cp.roster.nodes.map((n) => n.seq));
  if (cp.roster.nodeSeq < maxSeq) {
    ctx.addIssue({ code: 'custom', path: ['roster', 'nodeSeq'], message: `${cp.roster.nodeSeq} is below the highest node seq ${maxSeq}: new nodes would reuse a queue` });
  }
  checkNames(cp, ctx);
  const seen = new Set<string>();
  const check = (list: 'tasks' | 'finished', i: number, queue: string, id: string) => {
    const key = `${queue}\u0000${id}`;
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [list, i, 'id'], message: `task ${id} appears twice in queue ${queue}` });
    seen.add(key);
  };
  cp.tasks.forEach((t, i) => {
    check('tasks', i, t.queue, t.id);
    if (t.state === 'delayed' && t.dueAt === undefined) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'dueAt'], message: 'a delayed task needs dueAt' });
  });
  cp.finished.forEach((t, i) => check('finished', i, t.queue, t.id));
}

/** Version 1: no consensus section. Read, never written. */
export const checkpointV1Schema = z
  .object({ ...commonShape, version: z.literal(1) })
  .strict()
  .superRefine(checkCommon);

/** Version 2: consensus, no keys. Read, never written. */
export const checkpointV2Schema = z
  .object({ ...commonShape, version: z.literal(2), consensus: consensusSectionSchema })
  .strict()
  .superRefine((cp, ctx) => {
    checkCommon(cp, ctx);
    checkConsensusSection(cp.consensus, ctx);
  });

export const checkpointSchema = z
  .object({ ...commonShape, version: z.literal(CHECKPOINT_VERSION), consensus: consensusSectionSchema, keys: keysSectionSchema })
  .strict()
  .superRefine((cp, ctx) => {
    checkCommon(cp, ctx);
    checkConsensusSection(cp.consensus, ctx);
    checkKeysSection(cp.keys, ctx);
  });

export type Checkpoint = z.infer<typeof checkpointSchema>;

const MAX_ISSUES_SHOWN = 8;

function invalid(source: string, error: z.ZodError): SwarmError {
  const details = issuesOf(error);
  const shown = details.slice(0, MAX_ISSUES_SHOWN).map((d) => `${d.path}: ${d.message}`);
  if (details.length > MAX_ISSUES_SHOWN) shown.push(`and ${details.length - MAX_ISSUES_SHOWN} more`);
  return new SwarmError('invalid_request', `${source} is not a valid swarmq checkpoint: ${shown.join('; ')}`, details);
}

/** Checks a checkpoint made in code as parseCheckpoint checks a file (restore calls it before it writes); throws the same SwarmError. */
export function assertCheckpoint(cp: unknown, source = 'checkpoint'): void {
  const parsed = checkpointSchema.safeParse(cp);
  if (!parsed.success) throw invalid(source, parsed.error);
}

/** Parses and checks a checkpoint file's text (version 1, 2 or 3, returned as version 3); a SwarmError ('invalid_request') names every field that is wrong. */
export function parseCheckpoint(text: string, source = 'checkpoint file'): Checkpoint {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SwarmError('invalid_request', `${source} is not JSON: ${(err as Error).message}`, [{ path: '(root)', message: 'not JSON' }]);
  }
  let version: unknown;
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const { format } = json as { format?: unknown };
    version = (json as { version?: unknown }).version;
    if (format !== undefined && format !== CHECKPOINT_FORMAT) {
      throw new SwarmError('invalid_request', `${source} is not a swarmq checkpoint (format: ${JSON.stringify(format)})`, [{ path: 'format', message: `expected "${CHECKPOINT_FORMAT}"` }]);
    }
    if (typeof version === 'number' && !(CHECKPOINT_VERSIONS_READ as readonly number[]).includes(version)) {
      const known = `${CHECKPOINT_VERSIONS_READ.slice(0, -1).join(', ')} and ${CHECKPOINT_VERSIONS_READ.at(-1)}`;
      throw new SwarmError(
        'invalid_request',
        `${source} is checkpoint version ${version}; this swarmq reads versions ${known}${version > CHECKPOINT_VERSION ? ' (use the swarmq that wrote it, or a newer one)' : ''}`,
        [{ path: 'version', message: `expected one of ${known}` }],
      );
    }
  }
  if (version === 1) {
    // Version 1 never carried consensus: it restores as a version-2 file whose consensus section is empty.
    const v1 = checkpointV1Schema.safeParse(json);
    if (!v1.success) throw invalid(source, v1.error);
    return { ...v1.data, version: CHECKPOINT_VERSION, consensus: emptyConsensus(), keys: [] };
  }
  if (version === 2) {
    // Version 2 carried no key limits: its keyed tasks still restore with their keys (in their data), under no limits.
    const v2 = checkpointV2Schema.safeParse(json);
    if (!v2.success) throw invalid(source, v2.error);
    return { ...v2.data, version: CHECKPOINT_VERSION, keys: [] };
  }
  const parsed = checkpointSchema.safeParse(json);
  if (!parsed.success) throw invalid(source, parsed.error);
  return parsed.data;
}
