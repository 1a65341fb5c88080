// A task id names the node it was routed to (`<node>.<random>`), so a lookup
// needs no index write on the submit path; a task moved by the balancer is found
// through the `moved` hash instead.
import { randomBytes } from 'node:crypto';

export function newTaskId(nodeId: string): string {
  return `${nodeId}.${randomBytes(9).toString('base64url')}`;
}

export function nodeOfTaskId(taskId: string): string | undefined {
  const dot = taskId.indexOf('.');
  if (dot <= 0 || dot === taskId.length - 1) return undefined;
  return taskId.slice(0, dot);
}
