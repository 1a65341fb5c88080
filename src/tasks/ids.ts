// A task id names the node it was routed to (`<node>.<random>`), so a lookup
// needs no index write on the submit path; a task moved by the balancer is found
// through the `moved` hash instead.
//
// Ids end up inside Redis key names (`<prefix>:<queue>:<id>`), so a lookup
// checks an id against the grammar below before it builds any key: `n1.x:lock`
// or `meta` would otherwise name BullMQ's own keys. These are the only task ids
// swarmq issues.
import { randomBytes, randomFillSync } from 'node:crypto';
import { z } from 'zod';

// randomBytes per id costs ~7 µs on the submit path; one fill per 455 ids does not.
const ID_BYTES = 9;
const pool = Buffer.alloc(ID_BYTES * 455);
let offset = pool.length;

/** Task ids of replicated tasks: no node in them (nodeOfTaskId finds none), so lookups know to go to the consensus queue. */
export const REPLICATED_ID_PREFIX = 'r-';

/**
 * What newTaskId issues: a node id (`n<seq>` as registerAgents names nodes, or
 * `parked`), a dot, and 9 random bytes in base64url (12 characters).
 */
export const TASK_ID = /^(?:n[1-9][0-9]{0,15}|parked)\.[A-Za-z0-9_-]{12}$/;

/** What newReplicatedTaskId issues: `r-` and 9 random bytes in base64url. */
export const REPLICATED_TASK_ID = /^r-[A-Za-z0-9_-]{12}$/;

/** Any task id swarmq issues, plain or replicated; nothing else names a task. */
export const taskIdSchema = z.string().refine((id) => TASK_ID.test(id) || REPLICATED_TASK_ID.test(id), 'not a task id swarmq issues (<node>.<12 characters>, or r-<12 characters>)');

export function isIssuedTaskId(id: string): boolean {
  return taskIdSchema.safeParse(id).success;
}

export function newTaskId(nodeId: string): string {
  if (offset + ID_BYTES > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return `${nodeId}.${id}`;
}

export function newReplicatedTaskId(): string {
  return `${REPLICATED_ID_PREFIX}${randomBytes(ID_BYTES).toString('base64url')}`;
}

export function nodeOfTaskId(taskId: string): string | undefined {
  const dot = taskId.indexOf('.');
  if (dot <= 0 || dot === taskId.length - 1) return undefined;
  return taskId.slice(0, dot);
}
