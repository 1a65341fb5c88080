// Pure: what the read script saw (raw Redis values) → a checkpoint. No I/O, no
// clock: the time is Redis' own, read in the same step as everything else.
import { Job } from 'bullmq';
import type { z } from 'zod';
import { DEAD_LETTER_QUEUE, INTAKE_QUEUE, nodeOfQueueName, nodeQueueName, PARKED_NODE, REPLICA_OF_FIELD, swarmKeys } from '../../queues/keys.ts';
import { stagedTaskSchema } from '../coordinator/stagedBatch.ts';
import { nodeOfTaskId } from '../tasks/ids.ts';
import { agentRecordSchema, cancelledRecordSchema, nodeRecordSchema } from '../swarm/records.ts';
import { flatHash, type RawQueue, type RawSnapshot } from '../../queues/readSwarm.ts';
import { parseClaim } from '../../queues/crossMove.ts';
import { consensusToSection } from './consensusSnapshot.ts';
import { keyLimitsSchema, limitsFromFields } from '../keys/limits.ts';
import { carriedBudgetOf } from './budgetFormat.ts';
import { CHECKPOINT_ABOUT, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, type Checkpoint, type FinishedTask, type KeysSection, type UnfinishedState, type UnfinishedTask } from './format.ts';

// What the read script returns is typed beside it, in queues/readSwarm.ts.
export type { RawGroup, RawQueue, RawSnapshot } from '../../queues/readSwarm.ts';

/** An idempotency key read after the snapshot: its full key, the task it names, PTTL (-1 none, -2 gone). */
export interface RawIdempotencyKey {
  key: string;
  taskId: string | null;
  pttl: number;
}

export interface SnapshotOptions {
  prefix: string;
  includeFinished: boolean;
  /** Every key the swarm lists, with its limits, budget and spent hashes as read after the snapshot (read.ts); none: no keys section. */
  keys?: readonly RawKeyState[];
}

/** A key the swarm lists and the fields of its own hashes: its limits and its budget (what its scripts enforce), its current spend. */
export interface RawKeyState {
  key: string;
  limits: Record<string, string>;
  budget: Record<string, string>;
  spent: Record<string, string>;
}

/**
 * Job hash fields that Queue.add writes itself on restore (from name, data and
 * options) or that belong to the run of another Redis: `pb` names the host
 * whose worker took the job, a lock and processing state that mean nothing there.
 */
const FIELDS_REBUILT = new Set(['name', 'data', 'opts', 'timestamp', 'delay', 'priority', 'atm', 'attemptsMade', 'ats', 'stc', 'pb', 'parentKey', 'parent', 'rjk', 'deid']);

const DELAY_SCORE_FACTOR = 0x1000;

function int(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? Math.max(0, Math.trunc(n)) : undefined;
}

export function snapshotToCheckpoint(raw: RawSnapshot, idempotency: RawIdempotencyKey[], o: SnapshotOptions): { checkpoint: Checkpoint; warnings: string[] } {
  const warnings: string[] = [];

  const records = <T>(hash: Record<string, string>, schema: z.ZodType<T>, what: string): T[] => {
    const out: T[] = [];
    for (const [key, value] of Object.entries(hash)) {
      let json: unknown;
      try {
        json = JSON.parse(value);
      } catch {
        warnings.push(`${what} ${key}: not JSON, left out`);
        continue;
      }
      const parsed = schema.safeParse(json);
      if (parsed.success) out.push(parsed.data);
      else warnings.push(`${what} ${key}: ${parsed.error.message.replace(/\s+/g, ' ')}; left out`);
    }
    return out;
  };

  const agents = records(raw.agents, agentRecordSchema.loose(), 'agent').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const nodes = records(raw.nodes, nodeRecordSchema.loose(), 'node').sort((a, b) => a.seq - b.seq);
  const nodeSeq = Math.max(raw.nodeSeq, ...nodes.map((n) => n.seq));

  // A replica of a replicated task is a child in a BullMQ flow (its hash names
  // its parent): carried alone it would run with nowhere to report to, so it is
  // left out with its task (CHECKPOINT_ABOUT says why replicated tasks are not carried).
  // On a Cluster a replica is no flow child (a flow cannot span slots): its hash names its task in REPLICA_OF_FIELD.
  const isReplica = (queue: string, id: string, h: Record<string, string>): boolean => {
    const of = h.parentKey ? h.parentKey.slice(h.parentKey.lastIndexOf(':') + 1) : h[REPLICA_OF_FIELD];
    if (!of) return false;
    warnings.push(`queue ${queue}: job ${id} is a replica of replicated task ${of}; not carried`);
    return true;
  };

  const tasks: UnfinishedTask[] = [];
  const finished: FinishedTask[] = [];
  const claimed = claimedQueues(raw, warnings);
  for (const q of [...raw.queues, ...claimed]) {
    const decode = (id: string, state: UnfinishedState, dueAt?: number): UnfinishedTask | undefined => {
      const h = q.jobs.get(id);
      if (!h || Object.keys(h).length === 0) {
        warnings.push(`queue ${q.name}: job ${id} is ${state} but has no job hash; left out`);
        return undefined;
      }
      if (isReplica(q.name, id, h)) return undefined;
      let data: unknown = null;
      if (h.data !== undefined) {
        try {
          data = JSON.parse(h.data);
        } catch {
          data = h.data;
          warnings.push(`queue ${q.name}: job ${id} has data that is not JSON; carried as a string`);
        }
      }
      let opts: Record<string, unknown> = {};
      try {
        opts = Job.optsFromJSON(h.opts) as Record<string, unknown>;
      } catch {
        warnings.push(`queue ${q.name}: job ${id} has options that are not JSON; carried without them`);
      }
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(h)) if (!FIELDS_REBUILT.has(k)) fields[k] = v;
      const intake = q.intakeTasks.get(id);
      return {
        queue: q.name,
        id,
        state,
        name: h.name ?? '',
        data,
        opts,
        timestamp: int(h.timestamp) ?? raw.time,
        priority: Math.min(int(h.priority) ?? 0, 2_097_152),
        ...(dueAt !== undefined ? { dueAt } : {}),
        attemptsMade: int(h.atm ?? h.attemptsMade) ?? 0,
        attemptsStarted: int(h.ats) ?? 0,
        stalledCounter: int(h.stc) ?? 0,
        fields,
        ...(intake && intake.pttl !== -2 ? { intakeTask: { taskId: intake.taskId, ttlMs: intake.pttl > 0 ? intake.pttl : null } } : {}),
      };
    };
    const push = (t: UnfinishedTask | undefined) => {
      if (t) tasks.push(t);
    };
    // In the order the queue would hand them out, so restore can add them in that
    // order: lists are pushed at the head and taken from the tail, so oldest first
    // is the reverse of LRANGE. Active ones first: they were taken before the rest.
    for (const id of [...q.active].reverse()) push(decode(id, 'active'));
    for (const id of [...q.wait].reverse()) push(decode(id, 'waiting'));
    for (const id of [...q.pausedList].reverse()) push(decode(id, 'paused'));
    for (const id of q.prioritized) push(decode(id, 'prioritized'));
    for (const [id, score] of q.delayed) push(decode(id, 'delayed', Math.floor(Number(score) / DELAY_SCORE_FACTOR)));
    for (const id of q.unparking) push(decode(id, 'unparking'));
    if (o.includeFinished) {
      for (const [state, list] of [['completed', q.completed], ['failed', q.failed]] as const) {
        for (const [id, score] of list) {
          const h = q.jobs.get(id);
          if (!h || Object.keys(h).length === 0) {
            warnings.push(`queue ${q.name}: job ${id} is ${state} but has no job hash; left out`);
            continue;
          }
          if (isReplica(q.name, id, h)) continue;
          finished.push({ queue: q.name, id, state, finishedOn: int(h.finishedOn) ?? int(score) ?? raw.time, hash: h });
        }
      }
    }
  }

  tasks.push(...stagedTasks(raw, tasks, finished, warnings));
  const kept = keepOnce(tasks, finished);

  const carried = new Set([...kept.map((t) => t.id), ...finished.map((t) => t.id)]);
  const idemPrefix = swarmKeys(o.prefix).idempotency('');
  const idem: Checkpoint['idempotency'] = [];
  for (const k of idempotency) {
    // Read after the snapshot (a SCAN cannot run inside it without blocking Redis
    // for the whole keyspace). A key naming a task in the snapshot was claimed
    // before that task was enqueued, so before the snapshot: keeping exactly
    // those keys gives the set the snapshot would have seen.
    if (!k.key.startsWith(idemPrefix) || k.taskId === null || k.pttl === -2 || !carried.has(k.taskId)) continue;
    idem.push({ key: k.key.slice(idemPrefix.length), taskId: k.taskId, ttlMs: k.pttl > 0 ? k.pttl : null });
  }
  idem.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const groups: Checkpoint['groups'] = raw.groups
    .map((g) => ({ group: g.group, moved: { ...g.moved }, cancelled: records(g.cancelled, cancelledRecordSchema.loose(), `cancelled task in group ${g.group}`) }))
    .filter((g) => Object.keys(g.moved).length > 0 || g.cancelled.length > 0);

  const consensus = consensusToSection(raw.consensus, o.includeFinished, raw.time);
  warnings.push(...consensus.warnings);

  const keys: KeysSection = [];
  for (const k of [...(o.keys ?? [])].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    // Checked as a restore will check it: limits out of range (written into Redis by hand) are left out, the key kept.
    const parsed = keyLimitsSchema.safeParse(limitsFromFields(k.limits));
    if (!parsed.success) warnings.push(`key ${k.key}: its limits ${JSON.stringify(k.limits)} are not limits swarmq sets (${parsed.error.issues.map((i) => i.message).join('; ')}); carried without them`);
    // Spend is judged current on the snapshot's clock (Redis's), as its period was when the tasks were read.
    const budget = carriedBudgetOf(k.key, k.budget, k.spent, raw.time);
    warnings.push(...budget.warnings);
    keys.push({ key: k.key, limits: parsed.success ? parsed.data : {}, ...budget.part });
  }

  return {
    checkpoint: {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      createdAt: raw.time,
      prefix: o.prefix,
      about: CHECKPOINT_ABOUT,
      includesFinished: o.includeFinished,
      roster: { nodeSeq, agents, nodes },
      queues: [...raw.queues, ...claimed.filter((c) => !raw.queues.some((q) => q.name === c.name))].map((q) => ({ name: q.name, paused: q.paused })),
      groups,
      idempotency: idem,
      tasks: kept,
      finished,
      consensus: consensus.section,
      keys,
    },
    warnings,
  };
}

/** Whether a queue is a node's (not the parked queue's, which is named like one). */
function isNodeQueue(queue: string): boolean {
  const node = nodeOfQueueName(queue);
  return node !== undefined && node !== PARKED_NODE;
}

/**
 * A task seen both on its way and where it went is one task: it is kept once,
 * under its node. Every flow into a node queue adds under an id chosen before
 * (BullMQ adds an id once), so the same id there is the same task: a parked task
 * (waiting, or claimed: `unparking`) whose node queue has it, a staged task
 * (stagedTasks) already added. An intake job whose routing chose a task id that
 * the file carries (unfinished or finished) was routed: the job is dropped, its
 * task kept. One atomic read sees this only for a flow caught between its two
 * writes; per-slot reads (readCluster.ts) see it for any flow that crossed
 * between the reads of its two slots.
 */
function keepOnce(tasks: UnfinishedTask[], finished: FinishedTask[]): UnfinishedTask[] {
  const inNodes = new Set([...tasks, ...finished].filter((t) => isNodeQueue(t.queue)).map((t) => t.id));
  const parked = nodeQueueName(PARKED_NODE);
  return tasks.filter((t) => {
    if (t.queue === parked) return !inNodes.has(t.id);
    if (t.queue === INTAKE_QUEUE && t.intakeTask) return !inNodes.has(t.intakeTask.taskId);
    return true;
  });
}

/**
 * Tasks claimed to leave their slot group for a node of another (a group's
 * `moving` claims, queues/crossMove.ts) that no queue read holds: between the
 * claim and the landing the task is in no queue, so it is carried as a task of
 * its target node's queue, where the landing puts it (plain ones waiting,
 * prioritized ones with their priority). A claim whose task a queue read holds
 * has landed (or the task came back): that copy is the task.
 */
function claimedQueues(raw: RawSnapshot, warnings: string[]): RawQueue[] {
  const held = new Set<string>();
  for (const q of raw.queues) {
    for (const id of [...q.wait, ...q.active, ...q.pausedList, ...q.prioritized, ...q.unparking]) held.add(id);
    for (const [id] of [...q.delayed, ...q.completed, ...q.failed]) held.add(id);
  }
  const byQueue = new Map<string, RawQueue>();
  for (const g of raw.groups) {
    for (const [id, json] of Object.entries(g.moving)) {
      if (held.has(id)) continue;
      const claim = parseClaim(id, json);
      if (!claim) {
        warnings.push(`group ${g.group}: the claim of task ${id} moving to another group does not parse; left out`);
        continue;
      }
      const name = nodeQueueName(claim.to);
      let q = byQueue.get(name);
      if (!q) {
        q = { name, paused: false, wait: [], active: [], pausedList: [], prioritized: [], delayed: [], completed: [], failed: [], unparking: [], jobs: new Map(), intakeTasks: new Map() };
        byQueue.set(name, q);
      }
      (claim.kind === 'prioritized' ? q.prioritized : q.wait).push(id);
      q.jobs.set(id, flatHash(claim.hash));
      held.add(id);
    }
  }
  return [...byQueue.values()];
}

/**
 * The staged tasks of batches still being fanned out, as the tasks of their
 * node queues they are about to be (the batch is acknowledged once staged), when
 * the queue read did not already have them. A replicated task's staged jobs (its
 * parent, its replicas) are left out with the task, as replicated tasks are.
 */
function stagedTasks(raw: RawSnapshot, tasks: readonly UnfinishedTask[], finished: readonly FinishedTask[], warnings: string[]): UnfinishedTask[] {
  const have = new Set([...tasks, ...finished].map((t) => t.id));
  const out: UnfinishedTask[] = [];
  for (const s of raw.staged) {
    if (have.has(s.id)) continue;
    let json: unknown;
    try {
      json = JSON.parse(s.json);
    } catch {
      json = undefined;
    }
    const parsed = stagedTaskSchema.safeParse(json);
    if (!parsed.success) {
      warnings.push(`staged task ${s.id}: not a staged task; left out`);
      continue;
    }
    const t = parsed.data;
    if (t.replicaOf !== undefined || t.queue !== undefined) {
      warnings.push(`staged task ${s.id} is part of replicated task ${t.replicaOf ?? s.id}; not carried`);
      continue;
    }
    const node = nodeOfTaskId(s.id);
    if (node === undefined || !isNodeQueue(nodeQueueName(node))) {
      warnings.push(`staged task ${s.id}: its id names no node; left out`);
      continue;
    }
    const opts = t.opts;
    const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.trunc(v)) : 0);
    const timestamp = num(opts.timestamp) || raw.time;
    const priority = Math.min(num(opts.priority), 2_097_152);
    const delay = num(opts.delay);
    const state: UnfinishedState = delay > 0 ? 'delayed' : priority > 0 ? 'prioritized' : 'waiting';
    out.push({
      queue: nodeQueueName(node),
      id: s.id,
      state,
      name: t.name,
      data: t.data,
      opts: { ...opts },
      timestamp,
      priority,
      ...(delay > 0 ? { dueAt: timestamp + delay } : {}),
      attemptsMade: 0,
      attemptsStarted: 0,
      stalledCounter: 0,
      fields: {},
    });
  }
  return out;
}

export interface CheckpointCounts {
  agents: number;
  nodes: number;
  queues: number;
  /** Unfinished tasks (dead-letter records apart). */
  tasks: number;
  byState: Partial<Record<UnfinishedState, number>>;
  /** Records of the dead-letter queue (tasks that failed their last attempt). */
  deadLetters: number;
  finished: number;
  idempotencyKeys: number;
  moved: number;
  cancelled: number;
  /** Proposals by where their job was. */
  proposals: Partial<Record<string, number>>;
  /** Rounds whose hashes are carried. */
  rounds: number;
  /** Keys listed, and how many of them have limits, a budget, spend this period. */
  keys: number;
  keyLimits: number;
  keyBudgets: number;
  keySpend: number;
}

export function countCheckpoint(cp: Checkpoint): CheckpointCounts {
  const byState: Partial<Record<UnfinishedState, number>> = {};
  let deadLetters = 0;
  for (const t of cp.tasks) {
    if (t.queue === DEAD_LETTER_QUEUE) deadLetters++;
    else byState[t.state] = (byState[t.state] ?? 0) + 1;
  }
  return {
    agents: cp.roster.agents.length,
    nodes: cp.roster.nodes.length,
    queues: cp.queues.length,
    tasks: cp.tasks.length - deadLetters,
    byState,
    deadLetters,
    finished: cp.finished.length,
    idempotencyKeys: cp.idempotency.length,
    moved: cp.groups.reduce((s, g) => s + Object.keys(g.moved).length, 0),
    cancelled: cp.groups.reduce((s, g) => s + g.cancelled.length, 0),
    proposals: cp.consensus.proposals.reduce<Partial<Record<string, number>>>((by, p) => ({ ...by, [p.state]: (by[p.state] ?? 0) + 1 }), {}),
    rounds: cp.consensus.rounds.length,
    keys: cp.keys.length,
    keyLimits: cp.keys.filter((k) => Object.keys(k.limits).length > 0).length,
    keyBudgets: cp.keys.filter((k) => k.budget !== undefined).length,
    keySpend: cp.keys.filter((k) => k.spent !== undefined).length,
  };
}
