// What a processor is, and which one runs a task type: the contract between the
// engine (agents run tasks through it) and processors/ (the built-ins, user
// modules). A processor map is a plain object that users write, so a lookup by
// name must see its own entries only: through the prototype, `constructor`
// would run Object, `toString` would return "[object Undefined]", and `valueOf`
// or `__proto__` would throw inside the task.

/** What runs inside an agent: a processor per task type, handed this with each task. */
export interface TaskContext {
  taskId: string;
  agentId: string;
  nodeId: string;
  /** 1 on the first try. */
  attempt: number;
  /**
   * Set when a person rejected this task's previous output and asked for
   * another try (POST /api/tasks/:id/reject with retry: true; src/tasks/approval.ts):
   * their reason, for the processor to act on. Unset otherwise.
   */
  feedback?: string;
  /** With feedback: which output this run makes, 2 after the first rejection, 3 after the second, … */
  revision?: number;
  /** Aborted when the task is cancelled (reason: a TaskCancelledError), its timeout passes, or the host shuts down. */
  signal: AbortSignal;
  /**
   * Records the task's latest progress (any JSON value, at most
   * agents.progressMaxBytes of it) and streams it to watchers (GET
   * /api/tasks/:id/events, swarm.watch). Call it as often as you like, on
   * every token: writes are coalesced to one per agents.progressIntervalMs,
   * the latest value always delivered, the last one before the task finishes.
   * Throws at once on a value that is not plain JSON or is too big.
   */
  progress(value: unknown): void;
  /** The task's key (docs/keys.md), when it was submitted with one. */
  key?: string;
  /**
   * With a key: holds the key's tasks on every host for `ms` (its provider
   * said it is rate-limited); tasks of the key already running go on.
   * Resolves with when the hold ends (ms). Throwing a RetryLaterError does the
   * same and hands this task back for that long, no attempt spent.
   */
  holdKey?: (ms: number) => Promise<number>;
  /**
   * Reports what the task spent since its last report (docs/budgets.md):
   * `{ tokens, inputTokens, outputTokens, costUsd }`, each optional, ≥ 0
   * (`tokens` is input + output when left out). Counted in the task's totals
   * (its view's `usage`) and its key's spend for the period, swarm-wide.
   * Throws at once on a value that is not one; resolves once counted, with
   * the task's totals and its key's budget. Past the task's budget (or its
   * key's, set to abort), `signal` is aborted with a BudgetExceededError and
   * the task fails.
   */
  usage(value: UsageReport): Promise<UsageReceipt>;
}

/** One ctx.usage report (amounts since the last one). */
export interface UsageReport {
  tokens?: number;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

/** What ctx.usage resolves with: the task's totals over every attempt, and its key's budget after the report (null: the key has none). */
export interface UsageReceipt {
  task: { tokens: number; inputTokens: number; outputTokens: number; costUsd: number; reports: number } | null;
  key: { spent: { tokens: number; costUsd: number }; limit: { tokens?: number; costUsd?: number }; resetsAt: number; exhausted: boolean } | null;
}

export type Processor = (payload: unknown, ctx: TaskContext) => Promise<unknown> | unknown;

export type ProcessorMap = Record<string, Processor>;

/** The processor for a task type: an own entry that is a function, or none. */
export function processorFor(processors: ProcessorMap, type: string): Processor | undefined {
  if (!Object.hasOwn(processors, type)) return undefined;
  const p = processors[type];
  return typeof p === 'function' ? p : undefined;
}

/** The task types a map has processors for, to say what a host can run. */
export function taskTypesOf(processors: ProcessorMap): string[] {
  return Object.keys(processors)
    .filter((t) => typeof processors[t] === 'function')
    .sort();
}
