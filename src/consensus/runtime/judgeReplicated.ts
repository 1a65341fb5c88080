// Replicated tasks: a task run by `replicas` distinct agents whose result is
// the output the protocol decides among them.
//
// The task is a BullMQ flow: a parent job in the consensus queue (its id is
// the task's id) and one child job per replica in node queues. When every
// replica has finished (a failed replica does not block: ignoreDependencyOnFailure),
// the parent becomes runnable and a round driver judges it here. On a Redis
// Cluster, where no flow spans slots, the parent and its replicas are added
// without one (`flowless`, staged like a batch): the parent is delayed, and its
// driver looks at the replicas' states and delays it again until every one has
// finished. Either way the driver then judges it: it reads the
// replicas' outputs (getChildrenValues) and the agents that produced them (the
// job hash field the agent host wrote under the job's lock), and puts the most
// common output to a real round among those agents, each of which votes only
// for the hash of its own output (ProtocolOptions.accept). So a value is
// decided only if the protocol's quorum of replicas produced it; the others
// are outvoted and named as dissenters. And when no output has that quorum,
// no round can decide one: the task fails at once, naming the split, rather
// than when its vote times out.
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import type { RedisClient } from '../../../queues/redisTarget.ts';
import { z } from 'zod';
import { bullKey, CONSENSUS_QUEUE, swarmKeys } from '../../../queues/keys.ts';
import { approvalViewOf, AWAITING_FIELD, DECISION_FIELD, DECISIONS_FIELD, type ApprovalView } from '../../tasks/approval.ts';
import { getTask } from '../../../queues/getTask.ts';
import { agentRecordSchema } from '../../swarm/records.ts';
import { nodeOfTaskId, REPLICATED_ID_PREFIX } from '../../tasks/ids.ts';
import { AGENT_FIELD } from '../../tasks/view.ts';
import type { TaskState, TaskView } from '../../tasks/schema.ts';
import type { ProtocolName } from '../protocol.ts';
import { reach } from '../reach.ts';
import { roundSeed, roundSpecSchema, type Participant, type ProposalResult, type RoundSpec } from './proposal.ts';
import { certifiedKey, certifySpec } from './roundProof.ts';
import { canonicalJson, outputHash, REPLICA_PROOF_FIELD, replicaOutputSigned } from './replicaProof.ts';
import { revisionId } from './keys.ts';
import type { ProcessTrust } from '../../trust/processTrust.ts';
import type { AgentCert } from '../../trust/certificates.ts';
import { PROTOCOLS } from './protocols.ts';
import { slotPipeline } from '../../../queues/slotPipeline.ts';

/** The name of a replicated task's parent job in the consensus queue (proposals are named 'proposal'). */
export const REPLICATED_JOB = 'replicated';

/** Whether a task id is a replicated task's (its job is in the consensus queue); whether it is well formed is taskIdSchema's question. */
export function isReplicatedTaskId(id: string): boolean {
  return id.startsWith(REPLICATED_ID_PREFIX) && !id.includes('.');
}

/** Protocols a replicated task may name: those whose core honours `accept` (protocols.ts replicaQuorum). */
export const REPLICA_PROTOCOLS = (Object.keys(PROTOCOLS) as ProtocolName[]).filter((p) => PROTOCOLS[p].replicaQuorum !== undefined);

/** One tick of a replicated task's round; its timeouts only matter when agents crash or disagree. */
export const REPLICA_TICK_MS = 50;

export const replicatedOutcomeSchema = z.strictObject({
  protocol: z.string(),
  replicas: z.int(),
  decided: z.boolean(),
  /** Replicas whose output is the decided one (or, undecided, the most common one). */
  votes: z.int().min(0),
  /** Agents of replicas whose output differs from the decided one, or that failed. */
  dissenters: z.array(z.string()),
  /** The agent of each replica, in the order of `replicaTasks` (null: it never ran on an agent). */
  agents: z.array(z.string().nullable()),
  rounds: z.int().min(0),
  /** How the outputs split: one entry per distinct output, most common first (failed replicas last, output null). */
  split: z.array(z.strictObject({ hash: z.string().nullable(), count: z.int(), agents: z.array(z.string()), error: z.string().optional() })),
  latencyMs: z.number().min(0),
});
export type ReplicatedOutcome = z.infer<typeof replicatedOutcomeSchema>;

export const replicatedDataSchema = z.strictObject({
  replicated: z.strictObject({
    type: z.string(),
    protocol: z.string(),
    replicas: z.int().min(2),
    /** The vote's time limit once the replicas have finished. */
    timeoutMs: z.int().min(10),
    /** The replicas' task ids, in order. */
    replicaTasks: z.array(z.string()),
    /** Added without a flow (on a Redis Cluster): the driver waits for the replicas by reading their states. */
    flowless: z.literal(true).optional(),
    /** Which run of the task `replicaTasks` are: 1 (absent) at submit, one more after each rejection with retry (rerunReplicas.ts). */
    revision: z.int().min(2).optional(),
    /** The reason of the rejection that made this revision: its replicas' processors get it as ctx.feedback. */
    feedback: z.string().optional(),
    /**
     * What a revision's replicas are made of (tasks that need approval only): the replicas' envelope without
     * `replica`, and their BullMQ options without a job id.
     */
    rerun: z.strictObject({ envelope: z.record(z.string(), z.unknown()), opts: z.record(z.string(), z.unknown()) }).optional(),
  }),
  /** The round's spec, written before the round starts (hosts read it from here, never from the wire). */
  round: roundSpecSchema.optional(),
  outcome: replicatedOutcomeSchema.optional(),
  /** The decided output waits for approval (src/tasks/approval.ts) before the task completes with it. */
  approval: z.strictObject({ timeoutMs: z.int().min(1) }).optional(),
});
export type ReplicatedData = z.infer<typeof replicatedDataSchema>;


interface Replica {
  taskId: string;
  agent: string | null;
  ok: boolean;
  output: unknown;
  hash: string | null;
  error?: string;
  /** Its host's signature of the output (replicaProof.ts), when the host has an identity. */
  proof?: string;
}

export interface JudgeDeps {
  redis: RedisClient;
  prefix: string;
  /** A flowless task whose replicas have not all finished: delays its job `ms` and ends this run (BullMQ's DelayedError). */
  waitForReplicas(ms: number): Promise<never>;
  /** Runs a round to its end (vote.ts); `announce` adds fields to its consensus:reached event. */
  runRound(spec: RoundSpec, announce: (o: ProposalResult) => Record<string, unknown>): Promise<ProposalResult>;
  /** With a trust anchor: only agents with certified keys vote, and the spec is signed by this driver's proposer identity. */
  trust?: ProcessTrust;
}

function short(value: unknown): string {
  const text = canonicalJson(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** How long a flowless task waits before it looks at its replicas again: soon at first, at most a second for long ones. */
export function replicaPollMs(ageMs: number): number {
  return Math.min(1000, Math.max(50, Math.round(ageMs / 10)));
}

/**
 * A flowless task's replicas, read where they were added (replicas never move:
 * moveJobs-12.lua leaves them), or undefined while one has not finished yet.
 * A replica not in its queue and not staged either is gone (removed before the
 * vote); one still staged is on its way.
 */
async function flowlessReplicas(data: ReplicatedData, d: JudgeDeps): Promise<Replica[] | undefined> {
  const staged = swarmKeys(d.prefix).staged;
  const read = (id: string) => getTask(d.redis, { prefix: d.prefix, node: nodeOfTaskId(id)!, id });
  const out: Replica[] = [];
  for (const id of data.replicated.replicaTasks) {
    let job = await read(id);
    if (!job) {
      if (await d.redis.hexists(staged, id)) return undefined;
      job = await read(id); // its batch may have added it between the two reads
    }
    if (!job) {
      out.push({ taskId: id, agent: null, ok: false, output: null, hash: null, error: 'its result is gone (removed before the vote)' });
      continue;
    }
    const agent = job.hash[AGENT_FIELD] ?? null;
    if (job.state === 'completed') {
      let output: unknown = null;
      try {
        output = JSON.parse(job.hash.returnvalue ?? 'null');
      } catch {
        output = job.hash.returnvalue ?? null;
      }
      const proof = job.hash[REPLICA_PROOF_FIELD];
      out.push({ taskId: id, agent, ok: true, output, hash: outputHash(output), ...(proof === undefined ? {} : { proof }) });
    } else if (job.state === 'failed') out.push({ taskId: id, agent, ok: false, output: null, hash: null, error: job.hash.failedReason ?? 'failed' });
    else return undefined;
  }
  return out;
}

/** Reads every replica's outcome: output or failure, and the agent that produced it. */
async function replicasOf(job: Job, data: ReplicatedData, redis: RedisClient): Promise<Replica[]> {
  const [values, failures] = await Promise.all([job.getChildrenValues(), job.getIgnoredChildrenFailures()]);
  const idOf = (key: string) => key.slice(key.lastIndexOf(':') + 1);
  const keys = [...Object.keys(values), ...Object.keys(failures)];
  const p = slotPipeline(redis);
  for (const k of keys) p.hmget(k, AGENT_FIELD, REPLICA_PROOF_FIELD);
  const fields = ((await p.exec()) ?? []).map(([, v]) => (Array.isArray(v) ? (v as (string | null)[]) : [null, null]));
  const byId = new Map<string, Replica>();
  keys.forEach((k, i) => {
    const ok = Object.hasOwn(values, k);
    const output: unknown = ok ? values[k] : null;
    const [agent, proof] = fields[i] ?? [null, null];
    byId.set(idOf(k), { taskId: idOf(k), agent: agent ?? null, ok, output, hash: ok ? outputHash(output) : null, ...(ok ? {} : { error: String(failures[k]) }), ...(proof ? { proof } : {}) });
  });
  return data.replicated.replicaTasks.map((id) => byId.get(id) ?? { taskId: id, agent: null, ok: false, output: null, hash: null, error: 'its result is gone (removed before the vote)' });
}

function splitOf(replicas: readonly Replica[]): ReplicatedOutcome['split'] {
  const groups = new Map<string, { hash: string; count: number; agents: string[] }>();
  const failed: ReplicatedOutcome['split'] = [];
  for (const r of replicas) {
    if (r.hash === null) {
      failed.push({ hash: null, count: 1, agents: r.agent ? [r.agent] : [], error: r.error ?? 'failed' });
      continue;
    }
    const g = groups.get(r.hash) ?? { hash: r.hash, count: 0, agents: [] };
    g.count++;
    if (r.agent) g.agents.push(r.agent);
    groups.set(r.hash, g);
  }
  // Most common first; ties by hash, so every driver that judges the task again picks the same value.
  return [...[...groups.values()].sort((a, b) => b.count - a.count || a.hash.localeCompare(b.hash)), ...failed];
}

function describeSplit(split: ReplicatedOutcome['split'], replicas: readonly Replica[]): string {
  const sample = (hash: string | null) => short(replicas.find((r) => r.hash === hash)?.output);
  return split
    .map((g) => (g.hash === null ? `failed (${g.agents.join(', ') || 'no agent'}): ${g.error}` : `${g.count} × ${sample(g.hash)} (${g.agents.join(', ')})`))
    .join('; ');
}

/**
 * Judges a replicated task whose replicas have finished: a real round among
 * their agents. Returns the decided output (BullMQ stores it as the task's
 * result); throws an UnrecoverableError naming the split when nothing is
 * decided. The outcome is kept in the job's data for GET /api/tasks/:id.
 */
export async function judgeReplicated(job: Job, d: JudgeDeps): Promise<unknown> {
  const data = replicatedDataSchema.parse(job.data);
  const r = data.replicated;
  // The revision's own id: its round's, and what its replicas' outputs were signed for (keys.ts revisionId).
  const runId = revisionId(job.id!, r.revision ?? 1);
  let replicas: Replica[];
  if (r.flowless) {
    const read = await flowlessReplicas(data, d);
    if (!read) return await d.waitForReplicas(replicaPollMs(Date.now() - job.timestamp));
    replicas = read;
  } else replicas = await replicasOf(job, data, d.redis);
  const agents = replicas.map((x) => x.agent);
  const seatedAll = replicas.filter((x): x is Replica & { agent: string } => x.agent !== null);
  const seen = new Set(seatedAll.map((x) => x.agent));
  if (seen.size !== seatedAll.length) throw new UnrecoverableError(`replicas of task ${job.id} ran on one agent twice (${agents.join(', ')}): refusing to count them`);

  // Each agent's record: where its host reads messages, and its key. An agent that left can no longer vote.
  const raw = seatedAll.length ? await d.redis.hmget(swarmKeys(d.prefix).agents, ...seatedAll.map((x) => x.agent)) : [];
  const participants: Participant[] = [];
  const certs: Record<string, AgentCert> = {};
  const proposer = d.trust?.proposer;
  if (d.trust && !proposer) throw new UnrecoverableError('replicated task: SWARMQ_TRUST_ANCHOR is set and the coordinator driving the vote has no proposer identity to sign it with (SWARMQ_PROPOSER_IDENTITY_FILE)');
  seatedAll.forEach((x, i) => {
    const rec = agentRecordSchema.safeParse(raw[i] == null ? undefined : JSON.parse(raw[i]!));
    if (!rec.success || rec.data.consensusKey === undefined || rec.data.id !== x.agent) return;
    const cert = d.trust && certifiedKey(d.trust.verifier, rec.data);
    if (d.trust && !cert) return;
    if (cert) certs[x.agent] = cert;
    participants.push({ id: x.agent, host: rec.data.hostId, key: rec.data.consensusKey });
  });
  // With an anchor, an output counts only as its agent's certified host signed it: one changed in Redis is a failed replica.
  if (d.trust) {
    const trust = d.trust;
    replicas = replicas.map((x) => {
      const cert = x.agent === null ? undefined : certs[x.agent];
      if (!x.ok || x.hash === null || (cert && x.agent !== null && replicaOutputSigned(trust.verifier, cert, runId, x.taskId, x.agent, x.hash, x.proof))) return x;
      return { ...x, ok: false, output: null, hash: null, error: "its output is not signed by its agent's certified host (changed in Redis, or a host without an identity)" };
    });
  }
  const split = splitOf(replicas);
  const seated = replicas.filter((x): x is Replica & { agent: string } => x.agent !== null);
  const protocol = r.protocol as ProtocolName;
  const topHash = split[0]?.hash ?? null;
  const base = { protocol, replicas: r.replicas, agents, split };
  if (topHash === null || participants.length < 2) {
    const outcome: ReplicatedOutcome = { ...base, decided: false, votes: 0, dissenters: seated.map((x) => x.agent), rounds: 0, latencyMs: 0 };
    await job.updateData({ ...data, outcome });
    throw new UnrecoverableError(
      `replicated task: only ${participants.length} of ${r.replicas} replicas produced an output on an agent that can still vote, so there is nothing to agree on: ${describeSplit(split, replicas)}`,
    );
  }

  // The value put to the round is the most common output; its agent goes first (the quorum's ballot 0 is its own).
  let spec = data.round;
  const fresh = spec === undefined;
  if (spec === undefined) {
    const first = Math.max(0, participants.findIndex((p) => replicas.find((x) => x.agent === p.id)?.hash === topHash));
    const ordered = [participants[first]!, ...participants.filter((_, i) => i !== first)];
    const unsigned: RoundSpec = {
      id: runId,
      protocol,
      value: topHash,
      participants: ordered,
      seed: roundSeed(runId),
      tickMs: REPLICA_TICK_MS,
      timeoutMs: r.timeoutMs,
      createdAt: Date.now(),
      accepts: Object.fromEntries(ordered.map((p) => [p.id, replicas.find((x) => x.agent === p.id)?.hash ?? null])),
    };
    spec = proposer ? certifySpec(unsigned, certs, proposer) : unsigned;
  }
  const dissentersOf = (hash: string) => seated.filter((x) => x.hash !== hash).map((x) => x.agent);
  const need = PROTOCOLS[protocol].replicaQuorum?.(spec.participants.length) ?? spec.participants.length;
  // Every replica has voted, in effect: its agent may vote only for its own output (the spec's accepts), so the
  // most any output can get is the number of voters that produced it, whatever the round does.
  const votes = spec.participants.map((p) => spec.accepts?.[p.id] ?? null);
  if (!reach(votes, [], need).possible) {
    const outcome: ReplicatedOutcome = { ...base, decided: false, votes: split[0]?.count ?? 0, dissenters: dissentersOf(topHash), rounds: 0, latencyMs: 0 };
    await job.updateData({ ...data, outcome });
    throw new UnrecoverableError(
      `replicated task: no output reached the ${protocol} quorum of ${need} of ${spec.participants.length} voting replicas, and none can (each votes only for its own output); the outputs split: ${describeSplit(split, replicas)}`,
    );
  }
  // Written before any host hears of the round: hosts read the spec (and each agent's own accept) from the job.
  if (fresh) await job.updateData({ ...data, round: spec });
  const result = await d.runRound(spec, (o) => ({ task: job.id!, value: o.decided ? replicas.find((x) => x.hash === o.value)?.output ?? null : null, dissenters: o.decided ? dissentersOf(String(o.value)) : [] }));
  const decidedHash = result.decided ? String(result.value) : null;
  const winner = decidedHash === null ? undefined : replicas.find((x) => x.hash === decidedHash);
  const outcome: ReplicatedOutcome = {
    ...base,
    decided: winner !== undefined,
    votes: split.find((g) => g.hash === (decidedHash ?? topHash))?.count ?? 0,
    dissenters: dissentersOf(decidedHash ?? topHash),
    rounds: result.rounds,
    latencyMs: result.latencyMs,
  };
  await job.updateData({ ...data, round: spec, outcome });
  if (!winner) {
    throw new UnrecoverableError(
      `replicated task: no output reached the ${protocol} quorum of ${need} of ${spec.participants.length} voting replicas within ${r.timeoutMs} ms; the outputs split: ${describeSplit(split, replicas)}`,
    );
  }
  return winner.output;
}

function taskState(bull: string): TaskState {
  if (bull === 'completed' || bull === 'failed') return bull;
  // waiting-children: its replicas are queued or running; waiting / active: the vote is about to run or running.
  return bull === 'unknown' ? 'waiting' : 'active';
}

/** GET /api/tasks/:id of a replicated task (null: no such task); `redis` reads its approval fields when it needs approval. */
export async function replicatedTaskView(queue: Queue, id: string, redis?: RedisClient, prefix?: string): Promise<TaskView | null> {
  // The state first, then the job: a job read before its state could be one that completed in between, without its result.
  const bullState = await queue.getJobState(id);
  const job = (await queue.getJob(id)) as Job | undefined;
  if (!job || job.name !== REPLICATED_JOB) return null;
  const parsed = replicatedDataSchema.safeParse(job.data);
  if (!parsed.success) return null;
  const data = parsed.data;
  let state: TaskState = taskState(bullState);
  let approval: ApprovalView | undefined;
  if (data.approval && redis && prefix !== undefined) {
    const [awaiting, decision, decisions] = await redis.hmget(bullKey(prefix, CONSENSUS_QUEUE, id), AWAITING_FIELD, DECISION_FIELD, DECISIONS_FIELD);
    const fields = { ...(awaiting ? { [AWAITING_FIELD]: awaiting } : {}), ...(decision ? { [DECISION_FIELD]: decision } : {}), ...(decisions ? { [DECISIONS_FIELD]: decisions } : {}) };
    const a = approvalViewOf(data.approval, fields, { waitingForDeadline: bullState === 'delayed', failed: state === 'failed' });
    approval = a.view;
    if (a.awaitingNow) state = 'awaiting-approval';
  }
  const phase = state === 'completed' || state === 'failed' || state === 'awaiting-approval' ? 'done' : data.round ? 'voting' : 'replicas';
  const o = data.outcome;
  return {
    id,
    type: data.replicated.type,
    state,
    node: CONSENSUS_QUEUE,
    agentId: null,
    attempts: job.attemptsMade,
    result: state === 'completed' ? (job.returnvalue as unknown) : null,
    error: job.failedReason ? job.failedReason : null,
    createdAt: job.timestamp,
    startedAt: job.processedOn ?? null,
    finishedAt: state === 'completed' || state === 'failed' ? (job.finishedOn ?? null) : null,
    // Each replica reports its own progress (look a replica task up); the replicated task has none of its own.
    progress: null,
    consensus: {
      protocol: data.replicated.protocol,
      replicas: data.replicated.replicas,
      phase,
      replicaTasks: data.replicated.replicaTasks,
      decided: o?.decided ?? false,
      votes: o?.votes ?? 0,
      dissenters: o?.dissenters ?? [],
      agents: o?.agents ?? [],
      rounds: o?.rounds ?? 0,
      ...(o ? { split: o.split.map((g) => ({ count: g.count, agents: g.agents, ...(g.hash === null ? { error: g.error } : { outputHash: g.hash }) })) } : {}),
    },
    ...(approval ? { approval } : {}),
  };
}
