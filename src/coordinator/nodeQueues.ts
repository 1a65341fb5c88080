// The BullMQ handles the router adds through: one queue per node (opened on first
// use, kept until close) and a flow producer for replicated tasks (a parent and
// its replicas, all or none). Batches go through stagedBatch.ts.
import { FlowProducer, Queue, type FlowJob } from 'bullmq';
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { CONSENSUS_QUEUE, nodeQueueName } from '../../queues/keys.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { SwarmError } from '../errors.ts';
import { nodeOfTaskId } from '../tasks/ids.ts';
import { taskEnvelope, taskJobOptions } from '../tasks/nodeJob.ts';
import type { TaskInput } from '../tasks/schema.ts';
import type { ChainableCommander } from 'ioredis';
import { KeyWeights } from '../keys/keyWeights.ts';
import { bullmqAddOf, failedAdd, forgetWaiting, noteWaiting, queueKeyedAdd, settlePlacing, type KeyedJob } from '../keys/keyedAdd.ts';
import { addKeyed, BULLMQ_ADD_ARITY } from '../../queues/addKeyed.ts';
import { keyStateKeys } from '../../queues/keys.ts';

export interface Submitted {
  id: string;
  node: string;
}

export class NodeQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly flows: FlowProducer;
  /** Keys' weights, for keyed tasks' places in the fair order. */
  readonly weights: KeyWeights;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly tasks: SwarmConfig['tasks'],
    /** Connection trouble seen by BullMQ; requests report it themselves (503). */
    private readonly onRedisError: (err: Error) => void,
  ) {
    this.flows = new FlowProducer({ connection: redis, prefix });
    this.flows.on('error', (err) => this.onRedisError(err));
    this.weights = new KeyWeights(redis, prefix);
  }

  queueFor(nodeId: string, name = nodeQueueName(nodeId)): Queue {
    let q = this.queues.get(nodeId);
    if (!q) {
      q = new Queue(name, { connection: this.redis, prefix: this.prefix });
      q.on('error', (err) => this.onRedisError(err));
      this.queues.set(nodeId, q);
    }
    return q;
  }

  consensusQueue(): Queue {
    return this.queueFor(CONSENSUS_QUEUE, CONSENSUS_QUEUE);
  }

  /**
   * Enqueue one validated task under a chosen id. Adding an id that exists is a
   * no-op in BullMQ, which is what makes retried intake and idempotent submits safe.
   */
  async enqueue(task: TaskInput, id: string): Promise<Submitted> {
    const node = nodeOfTaskId(id);
    if (!node) throw new SwarmError('internal', `task id ${id} names no node`);
    if (task.key !== undefined) {
      const waitingInPlacing = !isCluster(this.redis);
      await this.enqueueKeyed({ id, node, name: task.type, data: taskEnvelope(task), opts: taskJobOptions(task, id, this.tasks), key: task.key, inc: this.weights.stepNow(task.key) ?? (await this.weights.stepOf(task.key)), waitingInPlacing });
      return { id, node };
    }
    await this.queueFor(node).add(task.type, taskEnvelope(task), taskJobOptions(task, id, this.tasks));
    return { id, node };
  }

  /**
   * BullMQ's own add of a task with no key, built as enqueue would send it but
   * not sent (its command and its keys and arguments), for a script that runs
   * it beside other steps (the intake's landing). Undefined when BullMQ would
   * not add it with one of `commands`.
   */
  addOf(task: TaskInput, id: string, commands: readonly string[]): { command: string; args: (string | number | Buffer)[] } | undefined {
    const node = nodeOfTaskId(id);
    if (!node || task.key !== undefined) return undefined;
    const add = bullmqAddOf(this.queueFor(node), { id, name: task.type, data: taskEnvelope(task), opts: taskJobOptions(task, id, this.tasks) });
    const command = add?.command.split(':')[0];
    return add && command && commands.includes(command) ? { command, args: add.args } : undefined;
  }

  /**
   * The add and its place in the fair order in one script (addKeyed-13.lua)
   * for a task with no priority, else in one MULTI; the key's waiting record
   * in the same step on one Redis, beside it on a Cluster (src/keys/keyedAdd.ts).
   */
  private async enqueueKeyed(j: KeyedJob): Promise<void> {
    const queue = this.queueFor(j.node);
    const bull = j.opts.priority ? undefined : bullmqAddOf(queue, j);
    if (bull && bull.command.startsWith('addStandardJob:') && bull.args.length === BULLMQ_ADD_ARITY) {
      const waitingKey = j.waitingInPlacing ? keyStateKeys(this.prefix, j.key).waiting : undefined;
      const waiting = waitingKey ? undefined : noteWaiting(this.redis, this.prefix, j.key, j.id);
      const r = await addKeyed(this.redis, { prefix: this.prefix, node: j.node, id: j.id, key: j.key, inc: j.inc, bullmq: bull.args, ...(waitingKey ? { waitingKey } : {}) });
      await waiting?.catch(() => {});
      if (typeof r.added === 'number' && r.added < 0) {
        await forgetWaiting(this.redis, this.prefix, j.key, j.id).catch(() => {});
        throw new Error(`adding the job failed with BullMQ code ${r.added}`);
      }
      if (r.tag === -1) await forgetWaiting(this.redis, this.prefix, j.key, j.id);
      return;
    }
    // BullMQ's own client: its scripts are defined on it (the router's connection, shared).
    const multi = (await queue.getBackend().client).multi() as unknown as ChainableCommander;
    queueKeyedAdd(multi, queue, this.prefix, j);
    // On one Redis the placing records it as waiting; on a Cluster the key's slot is elsewhere: a ZADD beside the MULTI.
    const waiting = j.waitingInPlacing ? Promise.resolve() : noteWaiting(this.redis, this.prefix, j.key, j.id);
    const replies = await multi.exec().then(
      (r) => r ?? [],
      (err: unknown) => [[err instanceof Error ? err : new Error(String(err)), null] as [Error, null]],
    );
    await waiting.catch(() => {});
    const failed = failedAdd(replies[0]);
    let tag: number;
    if (failed && failed.message.includes('NOSCRIPT')) {
      // BullMQ's script was not loaded on this connection (SCRIPT FLUSH): ioredis sends the add again by itself,
      // outside the MULTI, after it. Added here too (an add of an id that exists is a no-op), then placed alone.
      await queue.add(j.name, j.data, j.opts);
      tag = await settlePlacing(this.redis, this.prefix, j, undefined);
    } else if (failed) {
      // Nothing was added: the waiting record goes too.
      await forgetWaiting(this.redis, this.prefix, j.key, j.id).catch(() => {});
      throw failed;
    } else tag = await settlePlacing(this.redis, this.prefix, j, replies[1]);
    if (tag === -1) await forgetWaiting(this.redis, this.prefix, j.key, j.id);
  }

  /** A flow (a replicated task's parent and its replicas), all or none. */
  async addFlow(flow: FlowJob): Promise<void> {
    await this.flows.add(flow);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.flows.close();
  }
}
