// Submitting a replicated task (a task with `consensus: { protocol, replicas }`):
// refuse what cannot work before writing anything, choose `replicas` distinct
// live agents that can run it, and add the flow: the task's parent job in the
// consensus queue (judged by a round driver once the replicas are done) and
// one replica job per chosen agent, in that agent's node queue. Flow children
// never move between nodes (the balancer leaves them), and the node runner
// claims a distinct agent for each replica (src/agents/replicaSeat.ts).
// On a Redis Cluster no flow spans the consensus queue's slot and the node
// queues', so the same jobs are added without one, staged and fanned out like
// a batch (stagedBatch.ts): the parent delayed, its driver waiting for the
// replicas by their states (judgeReplicated.ts), each replica marked to stay
// on its node in the MULTI that adds it.
import type { FlowJob, FlowJobNode, JobsOptions } from 'bullmq';
import { CONSENSUS_QUEUE, nodeQueueName } from '../../queues/keys.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { REPLICA_PROTOCOLS, REPLICATED_JOB, type ReplicatedData } from '../consensus/runtime/judgeReplicated.ts';
import { PROTOCOLS } from '../consensus/runtime/protocols.ts';
import { SwarmError } from '../errors.ts';
import { liveCapacity } from '../routing/capacity.ts';
import { canRun, type NodeView } from '../routing/loads.ts';
import { newReplicatedTaskId, newTaskId } from '../tasks/ids.ts';
import { taskEnvelope, taskJobOptions } from '../tasks/nodeJob.ts';
import type { TaskEnvelope, TaskInput } from '../tasks/schema.ts';
import type { Submitted } from './nodeQueues.ts';
import type { BatchJob } from './stagedBatch.ts';

/** Default time limit of the vote once the replicas have finished. */
export const REPLICA_VOTE_TIMEOUT_MS = 10_000;

export type ReplicatedTask = TaskInput & { consensus: NonNullable<TaskInput['consensus']> };

/** Refusals that need no roster: the protocol, the count it needs, options that do not combine with replicas. */
export function checkReplicated(task: ReplicatedTask, where = ''): void {
  const { protocol, replicas } = task.consensus;
  const bad = (path: string, message: string) => new SwarmError('invalid_request', message, [{ path: `${where}${path}`, message }]);
  if (protocol === 'raft') {
    throw bad(
      'consensus.protocol',
      `raft cannot judge replicated tasks: Raft replicates its leader's value, so followers never compare their own outputs with it; use ${REPLICA_PROTOCOLS.map((p) => `"${p}"`).join(' or ')}`,
    );
  }
  if (!REPLICA_PROTOCOLS.includes(protocol)) {
    throw bad('consensus.protocol', `${protocol} does not judge replicated tasks yet (its core cannot restrict an agent's vote to its own output); use ${REPLICA_PROTOCOLS.map((p) => `"${p}"`).join(' or ')}`);
  }
  // Crash-fault cores judge 2 replicas (both must agree); PBFT needs n ≥ 3f+1 with f ≥ 1.
  const min = protocol === 'pbft' ? PROTOCOLS.pbft.minParticipants : 2;
  if (replicas < min) throw bad('consensus.replicas', `${protocol} needs at least ${min} replicas, got ${replicas}`);
  if (task.waitForAgent) throw bad('waitForAgent', 'waitForAgent cannot be combined with consensus yet: a replicated task needs its replicas\' agents live when it is submitted');
  if (task.idempotencyKey !== undefined) throw bad('idempotencyKey', 'idempotencyKey cannot be combined with consensus yet; submit the replicated task without it');
}

/**
 * Chooses `replicas` distinct live agents that can run the task, spread over
 * nodes (least loaded first, one agent per node per pass), so replicas run in
 * parallel and one slow node holds up as few as possible. Returns undefined,
 * with how many there are, when there are too few.
 */
export function chooseReplicaAgents(nodes: readonly NodeView[], task: TaskInput, replicas: number): { picks: { agent: string; node: string }[] } | { available: number } {
  const load = (n: NodeView) => (n.waiting + n.active) / Math.max(1, liveCapacity(n));
  const lists = nodes
    .map((n) => ({ node: n.id, load: load(n), agents: n.agents.filter((a) => a.live && canRun(a, task)).map((a) => a.id) }))
    .filter((n) => n.agents.length > 0)
    .sort((a, b) => a.load - b.load || a.node.localeCompare(b.node));
  const available = lists.reduce((s, n) => s + n.agents.length, 0);
  if (available < replicas) return { available };
  const picks: { agent: string; node: string }[] = [];
  for (let i = 0; picks.length < replicas; i++) for (const n of lists) if (i < n.agents.length && picks.length < replicas) picks.push({ agent: n.agents[i]!, node: n.node });
  return { picks };
}

/** The flow of a replicated task: its parent job (the task) and one child per replica. */
export function replicatedFlow(
  task: ReplicatedTask,
  picks: readonly { agent: string; node: string }[],
  prefix: string,
  envelope: TaskEnvelope,
  childOptions: (id: string) => JobsOptions,
  keep: { completedSeconds: number; failedSeconds: number },
): { id: string; flow: FlowJob } {
  const id = newReplicatedTaskId();
  // Approval is of the agreed output, after the vote: the replicas' own outputs count as they are.
  const { approval, ...replicaEnvelope } = envelope;
  const children: FlowJobNode[] = picks.map((p) => {
    const childId = newTaskId(p.node);
    return {
      name: task.type,
      queueName: nodeQueueName(p.node),
      prefix,
      data: { ...replicaEnvelope, replica: { of: id, prefer: p.agent } } satisfies TaskEnvelope,
      // A failed replica does not hold the task up: its agent votes for nothing, and the others may still agree.
      opts: { ...childOptions(childId), ignoreDependencyOnFailure: true },
    };
  });
  // A task that needs approval may be rejected with retry: its next replicas are made from these (rerunReplicas.ts).
  const { jobId: _id, ...rerunOpts } = { ...childOptions(''), ignoreDependencyOnFailure: true };
  const data: ReplicatedData = {
    replicated: {
      type: task.type,
      protocol: task.consensus.protocol,
      replicas: task.consensus.replicas,
      timeoutMs: task.consensus.timeoutMs ?? REPLICA_VOTE_TIMEOUT_MS,
      replicaTasks: children.map((c) => c.opts!.jobId!),
      ...(approval ? { rerun: { envelope: { ...replicaEnvelope }, opts: { ...rerunOpts } } } : {}),
    },
    ...(approval ? { approval } : {}),
  };
  return {
    id,
    flow: {
      name: REPLICATED_JOB,
      queueName: CONSENSUS_QUEUE,
      prefix,
      data,
      opts: { jobId: id, attempts: 1, removeOnComplete: { age: keep.completedSeconds }, removeOnFail: { age: keep.failedSeconds } },
      children,
    },
  };
}

/** Too few agents for the replicas asked for: what to change, and how many there are. */
export function tooFewReplicas(task: ReplicatedTask, available: number): SwarmError {
  const { replicas } = task.consensus;
  const message = `a replicated task needs ${replicas} distinct live agents that can run "${task.type}"; the swarm has ${available}: ask for fewer replicas or start more agents`;
  return new SwarmError('no_capable_agent', message, [{ path: 'consensus.replicas', message, available }]);
}

/** How long a flowless parent waits before its driver first looks at the replicas. */
export const FIRST_REPLICA_POLL_MS = 50;

/**
 * The same task as jobs without a flow (on a Redis Cluster): the parent,
 * delayed and marked flowless, then one replica per pick, each naming its
 * parent so it stays on its node.
 */
export function flowlessJobs(flow: FlowJob): BatchJob[] {
  const data = flow.data as ReplicatedData;
  const id = flow.opts!.jobId!;
  const parent: BatchJob = {
    id,
    queue: flow.queueName,
    name: flow.name,
    data: { ...data, replicated: { ...data.replicated, flowless: true } } satisfies ReplicatedData,
    opts: { ...flow.opts, delay: FIRST_REPLICA_POLL_MS },
  };
  const replicas = (flow.children ?? []).map((c): BatchJob => {
    const { ignoreDependencyOnFailure: _flowOnly, ...opts } = c.opts!;
    return { id: opts.jobId!, replicaOf: id, name: c.name, data: c.data, opts };
  });
  return [parent, ...replicas];
}

export interface ReplicatedSubmit {
  /** The roster as last read. */
  nodes: () => readonly NodeView[];
  /** Re-reads the roster now. */
  refresh: () => Promise<void>;
  /** Routes the task as a plain one; called only for the error it throws. */
  route: (task: TaskInput) => Promise<string>;
  addFlow: (flow: FlowJob) => Promise<void>;
  /** On a Redis Cluster, where a flow cannot span hash slots: adds the jobs all or none without one (stagedBatch.ts). */
  stage?: (jobs: BatchJob[]) => Promise<void>;
  prefix: string;
  tasks: SwarmConfig['tasks'];
}

/** A replicated task: its flow (parent in the consensus queue, a replica per chosen agent). */
export async function submitReplicated(s: ReplicatedSubmit, task: ReplicatedTask): Promise<Submitted> {
  checkReplicated(task);
  const { replicas } = task.consensus;
  let chosen = chooseReplicaAgents(s.nodes(), task, replicas);
  if (!('picks' in chosen)) {
    await s.refresh(); // agents may just have joined
    chosen = chooseReplicaAgents(s.nodes(), task, replicas);
  }
  if (!('picks' in chosen)) {
    if (chosen.available === 0) await s.route(task); // the usual error: unknown task type, or no capable agent
    throw tooFewReplicas(task, chosen.available);
  }
  const keep = { completedSeconds: s.tasks.keepCompletedSeconds, failedSeconds: s.tasks.keepFailedSeconds };
  const { id, flow } = replicatedFlow(task, chosen.picks, s.prefix, taskEnvelope(task), (childId) => taskJobOptions(task, childId, s.tasks), keep);
  if (s.stage) await s.stage(flowlessJobs(flow));
  else await s.addFlow(flow);
  return { id, node: CONSENSUS_QUEUE };
}
