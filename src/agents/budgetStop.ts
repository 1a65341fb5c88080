// What a processor sees when its run is stopped for a budget: the reason its
// ctx.signal is aborted with. Its task then fails for good with the message
// (no retry: another attempt would spend past the same budget).

export class BudgetExceededError extends Error {
  override readonly name = 'BudgetExceededError';
  /** What stopped the run, for a processor that tells reasons apart (a cancel's is a TaskCancelledError). */
  readonly code = 'budget';
  constructor(
    readonly taskId: string,
    /** Whose budget: the task's own, or its key's. */
    readonly scope: 'task' | 'key',
    message: string,
  ) {
    super(message);
  }
}

export function isBudgetExceeded(err: unknown): err is BudgetExceededError {
  return err instanceof BudgetExceededError;
}
