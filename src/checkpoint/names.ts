// Pure: which names a checkpoint may carry. A restore writes keys the file names
// (`<prefix>:<queue>:<job id>`, a queue's meta, group hashes, counters), so a
// name swarmq and BullMQ would never have made can land on a key that means
// something else: a finished "task" `id` in the intake queue turns BullMQ's job
// counter `<prefix>:intake:id` into a hash, and every producer's add fails with
// WRONGTYPE from then on; a paused `control-<host>` queue silences a host.
import { BULLMQ_QUEUE_KEY_SUFFIXES, DEAD_LETTER_QUEUE, INTAKE_QUEUE, nodeOfQueueName, nodeQueueName, nodeSeqOf, PARKED_NODE } from '../../queues/keys.ts';
import { nodeOfTaskId } from '../tasks/ids.ts';

/** BullMQ's own rules for a custom job id (Job.validateOptions): not an integer, no ':' unless it has three parts. */
export function bullmqAcceptsId(id: string): boolean {
  if (`${parseInt(id, 10)}` === id) return false;
  if (id.includes(':') && id.split(':').length !== 3) return false;
  return true;
}

/** Why `nodeId` is not a node of a roster whose sequence is at `nodeSeq` (undefined: it is). */
export function nodeIdProblem(nodeId: string, nodeSeq: number): string | undefined {
  const seq = nodeSeqOf(nodeId);
  if (seq === undefined) return `"${nodeId}" is not a node id (n<seq>)`;
  if (seq > nodeSeq) return `node ${nodeId} is beyond roster.nodeSeq (${nodeSeq}): no such node was ever made`;
  return undefined;
}

const TASK_QUEUES = `${INTAKE_QUEUE}, ${DEAD_LETTER_QUEUE}, ${nodeQueueName(PARKED_NODE)}, or a node's queue ${nodeQueueName('n1')} … up to roster.nodeSeq`;

/** Why a checkpoint cannot carry tasks of queue `name` (undefined: it can): only swarmq's own task queues. */
export function queueProblem(name: string, nodeSeq: number): string | undefined {
  if (name === INTAKE_QUEUE || name === DEAD_LETTER_QUEUE) return undefined;
  const node = nodeOfQueueName(name);
  if (node === undefined) return `"${name}" is not one of swarmq's task queues (${TASK_QUEUES})`;
  return node === PARKED_NODE ? undefined : nodeIdProblem(node, nodeSeq);
}

/** BullMQ's job counter issues these in the intake queue; beyond 2^53 a number no longer names one integer. */
const AUTO_ID = /^[1-9][0-9]*$/;
/** The id of a job BullMQ's job schedulers add: `repeat:<scheduler>:<millis>`. */
const REPEAT_JOB_ID = /^repeat:[^:]+:[0-9]+$/;

/**
 * Why `id` cannot be the id of a job in `queue` (undefined: it can). The intake
 * queue holds producers' jobs: BullMQ's counter ids, or custom ids BullMQ takes.
 * Every other queue holds swarmq's own ids (`<node>.<random>`, probes, dead
 * letters under their task's id), which are never integers and have no ':'.
 * No id may be the name of one of the queue's own keys.
 */
export function jobIdProblem(queue: string, id: string): string | undefined {
  const head = id.split(':')[0]!;
  if (BULLMQ_QUEUE_KEY_SUFFIXES.has(head) && !(queue === INTAKE_QUEUE && REPEAT_JOB_ID.test(id))) {
    return `"${id}" names one of BullMQ's own keys of queue ${queue} (<prefix>:${queue}:${head}), not a job`;
  }
  if (queue === INTAKE_QUEUE) {
    if (AUTO_ID.test(id)) return Number(id) <= Number.MAX_SAFE_INTEGER ? undefined : `job id ${id} is beyond any BullMQ job counter (at most ${Number.MAX_SAFE_INTEGER})`;
    return bullmqAcceptsId(id) ? undefined : `"${id}" is not a job id BullMQ gives or takes (an integer from its counter, or a custom id: not an integer, ":" only with three parts)`;
  }
  if (!bullmqAcceptsId(id) || id.includes(':')) return `"${id}" is not a job id swarmq gives in queue ${queue} (never an integer, never ":")`;
  return undefined;
}

/** Why `taskId` is not the id of a task swarmq made (`<node>.<random>` for a node of the roster, or parked). */
export function taskIdProblem(taskId: string, nodeSeq: number): string | undefined {
  const node = nodeOfTaskId(taskId);
  if (node === undefined || taskId.includes(':')) return `"${taskId}" is not a task id (<node>.<random>)`;
  return node === PARKED_NODE ? undefined : nodeIdProblem(node, nodeSeq);
}

/** Why `group` is not one of swarmq's slot groups (`g<k>` of the node queues, or parked). */
export function groupProblem(group: string): string | undefined {
  return /^g[1-9][0-9]*$/.test(group) || group === PARKED_NODE ? undefined : `"${group}" is not a slot group (g<k>, or ${PARKED_NODE})`;
}
