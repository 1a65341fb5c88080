// What runs inside an agent: a processor per task type.
export interface TaskContext {
  taskId: string;
  agentId: string;
  nodeId: string;
  /** 1 on the first try. */
  attempt: number;
  /** Aborted when the task's timeout passes or the host shuts down. */
  signal: AbortSignal;
}

export type Processor = (payload: unknown, ctx: TaskContext) => Promise<unknown> | unknown;

export type ProcessorMap = Record<string, Processor>;
