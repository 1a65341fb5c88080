// What a producer may submit, checked at every way in (HTTP, client, intake).
import { z } from 'zod';

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

export const taskOptionsSchema = z
  .object({
    /** BullMQ's priority: 1 is the most urgent; omitted means FIFO before any prioritized task. */
    priority: z.number().int().min(1).max(2_097_152).optional(),
    affinity: affinitySchema.optional(),
    timeoutMs: z.number().int().positive().max(24 * 3600 * 1000).optional(),
    attempts: z.number().int().min(1).max(100).optional(),
    idempotencyKey: z.string().min(1).max(256).optional(),
    /** No agent can run it yet: wait (parked) for one to join instead of a 400. */
    waitForAgent: z.boolean().optional(),
    /** Routing strategy for this task; the swarm's (coordinator.loadBalancing.type) otherwise. */
    strategy: z.enum(['least-loaded', 'round-robin', 'weighted', 'random']).optional(),
  })
  .strict();

export const taskInputSchema = taskOptionsSchema.extend({ type: taskTypeSchema, payload: z.unknown().optional() }).strict();

export type Affinity = z.infer<typeof affinitySchema>;
export type TaskOptions = z.infer<typeof taskOptionsSchema>;
export type TaskInput = z.infer<typeof taskInputSchema>;

/** What a node job carries: the payload plus what the agent needs to run it. */
export interface TaskEnvelope {
  payload: unknown;
  timeoutMs?: number;
  affinity?: Affinity;
}

export const TASK_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'cancelled'] as const;
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
}

/** zod issues as a flat list naming the field, for `details`. */
export function issuesOf(err: z.ZodError): { path: string; message: string }[] {
  return err.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

export function describeIssues(err: z.ZodError): string {
  return issuesOf(err)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
}
