// A task its service refused for good (an HTTP agent's endpoint answered 4xx,
// or streamed an error marked permanent): the service is up and judged the
// task, so the failure is the task's, not the agent's. It fails the task at
// once like any UnrecoverableError, and the node runner does not count it
// against the agent's circuit breaker.
import { UnrecoverableError } from 'bullmq';

export class TaskRefusedError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    // BullMQ also recognizes an unrecoverable failure by its name; its constructor would set this class's.
    this.name = 'UnrecoverableError';
  }
}

export function isTaskRefused(err: unknown): err is TaskRefusedError {
  return err instanceof TaskRefusedError;
}
