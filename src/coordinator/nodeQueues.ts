// The BullMQ handles the router adds through: one queue per node (opened on first
// use, kept until close) and a flow producer for replicated tasks (a parent and
// its replicas, all or none). Batches go through stagedBatch.ts.
import { FlowProducer, Queue, type FlowJob } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { CONSENSUS_QUEUE, nodeQueueName } from '../../queues/keys.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { SwarmError } from '../errors.ts';
import { nodeOfTaskId } from '../tasks/ids.ts';
import { taskEnvelope, taskJobOptions } from '../tasks/nodeJob.ts';
import type { TaskInput } from '../tasks/schema.ts';

export interface Submitted {
  id: string;
  node: string;
}

export class NodeQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly flows: FlowProducer;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly tasks: SwarmConfig['tasks'],
    /** Connection trouble seen by BullMQ; requests report it themselves (503). */
    private readonly onRedisError: (err: Error) => void,
  ) {
    this.flows = new FlowProducer({ connection: redis, prefix });
    this.flows.on('error', (err) => this.onRedisError(err));
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
    await this.queueFor(node).add(task.type, taskEnvelope(task), taskJobOptions(task, id, this.tasks));
    return { id, node };
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
