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
//   tasks caught half-way to a node (`unparking`);
// - the dead-letter queue's records (waiting jobs there: it has no worker);
// - idempotency keys of the tasks it carries, with their remaining time.
// Not carried: completed and failed tasks (unless taken with includeFinished),
// hosts and heartbeats, host connections, the lease and fences, recoveries, the
// events stream and stats, job logs and BullMQ's per-queue event streams.
//
// Consensus logs are not in version 1. When they land they join as a section of
// their own and the version goes up, so an older swarmq refuses a file it could
// not restore whole instead of dropping part of it (the top level is strict).
import { z } from 'zod';
import { SwarmError } from '../errors.ts';
import { agentRecordSchema, cancelledRecordSchema, nodeRecordSchema } from '../swarm/records.ts';
import { issuesOf } from '../tasks/schema.ts';

export const CHECKPOINT_FORMAT = 'swarmq-checkpoint';
export const CHECKPOINT_VERSION = 1;

export const CHECKPOINT_ABOUT =
  'A point-in-time snapshot of a swarmq swarm: the roster (agents, nodes, node sequence), the moved and cancelled ' +
  'records of each slot group, every unfinished task (waiting, prioritized, delayed, paused, active; active ones ' +
  'restore as waiting because the agents running them are not in the new Redis, so they run again), the ' +
  "idempotency keys of those tasks and the dead-letter queue's records. " +
  'Completed and failed tasks are not carried unless `includesFinished` is true. ' +
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

export const checkpointSchema = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    version: z.literal(CHECKPOINT_VERSION),
    /** Redis' clock when the snapshot was read (ms). */
    createdAt: ms,
    /** The prefix it was taken from (restore may use another). */
    prefix: z.string(),
    /** What is carried and what not, for a reader of the file. */
    about: z.string().optional(),
    includesFinished: z.boolean(),
    roster: z
      .object({
        nodeSeq: count,
        // loose: fields a newer swarmq adds to these records survive the round trip.
        agents: z.array(agentRecordSchema.loose()),
        nodes: z.array(nodeRecordSchema.loose()),
      })
      .strict(),
    queues: z.array(z.object({ name: queueName, paused: z.boolean() }).strict()),
    groups: z.array(
      z
        .object({
          group: z.string().regex(/^[A-Za-z0-9_-]+$/, 'a slot group name (g1, parked, …)'),
          moved: z.record(z.string(), z.string()),
          cancelled: z.array(cancelledRecordSchema.loose()),
        })
        .strict(),
    ),
    idempotency: z.array(z.object({ key: z.string().min(1), taskId: z.string().min(1), ttlMs: z.number().int().positive().nullable() }).strict()),
    tasks: z.array(unfinishedTaskSchema),
    finished: z.array(finishedTaskSchema),
  })
  .strict()
  .superRefine((cp, ctx) => {
    const maxSeq = Math.max(0, ...cp.roster.nodes.map((n) => n.seq));
    if (cp.roster.nodeSeq < maxSeq) {
      ctx.addIssue({ code: 'custom', path: ['roster', 'nodeSeq'], message: `${cp.roster.nodeSeq} is below the highest node seq ${maxSeq}: new nodes would reuse a queue` });
    }
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
  });

export type Checkpoint = z.infer<typeof checkpointSchema>;

const MAX_ISSUES_SHOWN = 8;

/** Parses and checks a checkpoint file's text; a SwarmError ('invalid_request') names every field that is wrong. */
export function parseCheckpoint(text: string, source = 'checkpoint file'): Checkpoint {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SwarmError('invalid_request', `${source} is not JSON: ${(err as Error).message}`, [{ path: '(root)', message: 'not JSON' }]);
  }
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const { format, version } = json as { format?: unknown; version?: unknown };
    if (format !== undefined && format !== CHECKPOINT_FORMAT) {
      throw new SwarmError('invalid_request', `${source} is not a swarmq checkpoint (format: ${JSON.stringify(format)})`, [{ path: 'format', message: `expected "${CHECKPOINT_FORMAT}"` }]);
    }
    if (typeof version === 'number' && version !== CHECKPOINT_VERSION) {
      throw new SwarmError(
        'invalid_request',
        `${source} is checkpoint version ${version}; this swarmq reads version ${CHECKPOINT_VERSION}${version > CHECKPOINT_VERSION ? ' (use the swarmq that wrote it, or a newer one)' : ''}`,
        [{ path: 'version', message: `expected ${CHECKPOINT_VERSION}` }],
      );
    }
  }
  const parsed = checkpointSchema.safeParse(json);
  if (!parsed.success) {
    const details = issuesOf(parsed.error);
    const shown = details.slice(0, MAX_ISSUES_SHOWN).map((d) => `${d.path}: ${d.message}`);
    if (details.length > MAX_ISSUES_SHOWN) shown.push(`and ${details.length - MAX_ISSUES_SHOWN} more`);
    throw new SwarmError('invalid_request', `${source} is not a valid swarmq checkpoint: ${shown.join('; ')}`, details);
  }
  return parsed.data;
}
