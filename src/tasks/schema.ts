// What a producer may submit, checked at every way in (HTTP, client, intake).
import { z } from 'zod';
import { approvalOptionSchema, type ApprovalTerms, type ApprovalView } from './approval.ts';
import { KEY_NAME } from '../../queues/keys.ts';
import { taskBudgetSchema, type TaskBudget, type Usage } from '../budgets/budget.ts';

export const affinitySchema = z
  .object({
    agentType: z.string().min(1).max(128).optional(),
    capabilities: z.array(z.string().min(1).max(128)).max(64).optional(),
  })
  .strict();

export const taskTypeSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" only');

/** A key: the tenant, team or API key a task is run for, whose limits and fair share it counts against (docs/keys.md). */
export const taskKeySchema = z.string().regex(KEY_NAME, '1 to 128 letters, digits, "_", ".", "@", ":" or "-"');

/** Most replicas a replicated task may ask for: each is a full run of the task. */
export const MAX_REPLICAS = 15;

export const taskOptionsSchema = z
  .object({
    /** BullMQ's priority: 1 is the most urgent; omitted means FIFO before any prioritized task. */
    priority: z.number().int().min(1).max(2_097_152).optional(),
    affinity: affinitySchema.optional(),
    timeoutMs: z.number().int().positive().max(24 * 3600 * 1000).optional(),
    attempts: z.number().int().min(1).max(100).optional(),
    idempotencyKey: z.string().min(1).max(256).optional(),
    /** Its key: starts count against the key's limits, and keys share a node's agents fairly, by weight. */
    key: taskKeySchema.optional(),
    /** No agent can run it yet: wait (parked) for one to join instead of a 400. */
    waitForAgent: z.boolean().optional(),
    /** Routing strategy for this task; the swarm's (coordinator.loadBalancing.type) otherwise. */
    strategy: z.enum(['least-loaded', 'round-robin', 'weighted', 'random']).optional(),
    /**
     * A replicated task: run on `replicas` distinct agents; its result is the
     * output the protocol decides among them (each agent votes for its own).
     * Raft is listed so that asking for it gets a reason, not "invalid enum".
     */
    consensus: z
      .strictObject({
        protocol: z.enum(['quorum', 'pbft', 'fast-paxos', 'raft']),
        replicas: z.int().min(2).max(MAX_REPLICAS),
        /** The vote's time limit once the replicas have finished (default 10 s). */
        timeoutMs: z.int().min(100).max(600_000).optional(),
      })
      .optional(),
    /** Its output counts only once approved (src/tasks/approval.ts): until then the task is awaiting-approval. */
    approval: approvalOptionSchema.optional(),
    /** Its own spend, over every attempt (docs/budgets.md): past it, its run is aborted and the task fails. */
    budget: taskBudgetSchema.optional(),
  })
  .strict();

export const taskInputSchema = taskOptionsSchema
  .extend({ type: taskTypeSchema, payload: z.unknown().optional() })
  .strict()
  .refine((t) => t.key === undefined || t.consensus === undefined, { message: 'a replicated task (consensus) cannot carry a key yet', path: ['key'] });

export type Affinity = z.infer<typeof affinitySchema>;
export type TaskInput = z.infer<typeof taskInputSchema>;

/** What a node job carries: the payload plus what the agent needs to run it. */
export interface TaskEnvelope {
  payload: unknown;
  /**
   * A replica of a replicated task: `of` is that task's id (`<task>~<revision>` for a revision after the
   * first: its seat claims and output proofs are its own), `prefer` the agent chosen for it. A revision's
   * replicas carry the rejection's reason, given to the processor as ctx.feedback with ctx.revision.
   */
  replica?: { of: string; prefer: string; feedback?: string; revision?: number };
  timeoutMs?: number;
  affinity?: Affinity;
  /** Its output waits for a decision (src/tasks/approval.ts); never on a replica: its replicated task carries it. */
  approval?: ApprovalTerms;
  /** Its key: the agent host checks the key's limits before it starts (src/agents/keyGate.ts). */
  key?: string;
  /** Its own budget: the host stops its run once its usage is past it (src/budgets/taskUsage.ts). */
  budget?: TaskBudget;
}

export const TASK_STATES = ['waiting', 'active', 'awaiting-approval', 'completed', 'failed', 'delayed', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface TaskView {
  id: string;
  type: string;
  state: TaskState;
  node: string;
  agentId: string | null;
  attempts: number;
  result: unknown;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The latest value its processor reported with ctx.progress (null: none yet); kept once it finishes. */
  progress: unknown;
  /** The key it was submitted with (docs/keys.md); absent for none. */
  key?: string;
  /** What its processor reported with ctx.usage, over every attempt (docs/budgets.md); absent while it reported nothing. */
  usage?: Usage & { reports: number };
  /** The budget it was submitted with; absent for none. */
  budget?: TaskBudget;
  /** Replicated tasks only: the replicas and the vote on their outputs. */
  consensus?: ReplicatedTaskConsensus;
  /** Tasks submitted with approval required: what waits for a decision, and the decisions. */
  approval?: ApprovalView;
}

export interface ReplicatedTaskConsensus {
  protocol: string;
  replicas: number;
  /** replicas: they run; voting: their agents vote on the outputs; done: decided, or failed. */
  phase: 'replicas' | 'voting' | 'done';
  /** The replicas' own task ids (each may be looked up like any task). */
  replicaTasks: string[];
  decided: boolean;
  /** Replicas whose output is the decided one. */
  votes: number;
  /** Agents whose output differs from the decided one (outvoted), or whose replica failed. */
  dissenters: string[];
  /** The agent each replica ran on, in the order of replicaTasks. */
  agents: (string | null)[];
  rounds: number;
  /** How the outputs split, most common first. */
  split?: { count: number; agents: string[]; outputHash?: string; error?: string }[];
}
