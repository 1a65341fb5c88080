// What a processor sees when its running task is cancelled, and what its host
// is told of it: the signal's reason, and the events it counts and alerts on.

/** The reason `ctx.signal` is aborted with when the task is cancelled (DELETE /api/tasks/:id, swarm.cancel, swarmq cancel). */
export class TaskCancelledError extends Error {
  override readonly name = 'TaskCancelledError';
  constructor(readonly taskId: string) {
    super(`task ${taskId} was cancelled`);
  }
}

/**
 * aborted: its signal was aborted; result-refused: its processor returned a
 * result after the cancel, counted, never recorded; ignored-signal: its
 * processor had not ended when the grace period passed, so its slot was freed.
 */
export interface CancelEvent {
  kind: 'aborted' | 'result-refused' | 'ignored-signal';
  taskId: string;
  agentId: string;
  node: string;
}
