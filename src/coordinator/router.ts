// The submit path shared by the HTTP API, the TypeScript client and the intake
// queue: validate, route on a local snapshot (no extra round trip), enqueue.
// TaskRouter composes the parts, one concern a file: validation and job shaping
// (src/tasks/validate.ts, nodeJob.ts, batch.ts), routing (nodeRouting.ts), node
// queues (nodeQueues.ts), idempotency (idempotency.ts), batch and replicated
// submits (submitBatch.ts, submitReplicated.ts), reads (readTask.ts), cancel (cancel.ts).
import type { Queue } from 'bullmq';
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { loadScripts } from '../../queues/scripts.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { newTaskId, nodeOfTaskId } from '../tasks/ids.ts';
import type { TaskInput, TaskView } from '../tasks/schema.ts';
import { validateTask } from '../tasks/validate.ts';
import { traced } from '../tracing/spans.ts';
import { confirmDurable } from '../durability.ts';
import { CONSENSUS_QUEUE, nodeOfQueueName, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { cancelOne, type CancelledView, type Cancelling } from './cancel.ts';
import { cancelBatch, type BatchCancel } from './cancelBatch.ts';
import { CancelNotices } from './cancelNotices.ts';
import { cancelReplicatedTask, type CancelledReplicated } from './cancelReplicated.ts';
import { HostControl } from './hostControl.ts';
import { isReplicatedTaskId } from '../consensus/runtime/judgeReplicated.ts';
import { IdempotencyClaims, submitIdempotent, type IdempotentSubmit } from './idempotency.ts';
import { NodeQueues, type Submitted } from './nodeQueues.ts';
import { NodeRouting } from './nodeRouting.ts';
import { readTask } from './readTask.ts';
import { submitBatch } from './submitBatch.ts';
import { submitReplicated, type ReplicatedSubmit, type ReplicatedTask } from './submitReplicated.ts';
import { BATCH_LEASE_MS, resumeBatch, resumeDueBatches, submitStaged, type BatchFanOut, type BatchJob } from './stagedBatch.ts';
import { taskEnvelope, taskJobOptions } from '../tasks/nodeJob.ts';
import { decide, listAwaiting, type AwaitingPage, type DecisionRequest } from './approvals.ts';
import { KeyBudgets } from '../budgets/keyBudgets.ts';

export type { Submitted } from './nodeQueues.ts';

export interface RouterOptions {
  /** A connection for commands; the router never blocks on it. */
  redis: RedisClient;
  config: SwarmConfig;
  onBadRecord?: (what: string, key: string, err: string) => void;
  /** Connection trouble seen by BullMQ's queues; requests report it themselves (503). */
  onRedisError?: (err: Error) => void;
  /** How long a batch submit has to fan its staged tasks out before a reader or the leader takes over (default BATCH_LEASE_MS). */
  batchLeaseMs?: number;
  /** A batch fan-out that failed after its batch was acknowledged: the batch stays staged and is finished later. */
  onBatchLate?: (err: Error) => void;
  /** A cancelled running task's host could not be woken (the cancel stands; the host finds it at its next lock renewal). */
  onCancelNoticeError?: (host: string, err: Error) => void;
  /** An approval decision is recorded, its approval:decided event not (Redis gone a moment, or an ACL user that may not add events: a producer's). */
  onDecisionEventError?: (task: string, err: Error) => void;
}

export class TaskRouter {
  readonly prefix: string;
  private readonly claims: IdempotencyClaims;
  private readonly queues: NodeQueues;
  private readonly routing: NodeRouting;
  /** Which keys have a budget: a keyed submit of a spent one is refused (429 budget_exhausted) before anything is written. */
  readonly budgets: KeyBudgets;
  /** Opened at the first cancel of a running task: the hosts' control queues carry the wake-ups. */
  private control: HostControl | undefined;

  constructor(private readonly opts: RouterOptions) {
    this.prefix = opts.config.prefix;
    this.claims = new IdempotencyClaims(opts.redis, this.prefix, opts.config.tasks.keepCompletedSeconds);
    this.routing = new NodeRouting(opts.redis, opts.config, opts.onBadRecord);
    this.queues = new NodeQueues(opts.redis, this.prefix, opts.config.tasks, (err) => this.opts.onRedisError?.(err));
    this.budgets = new KeyBudgets(opts.redis, this.prefix);
  }

  async start(): Promise<void> {
    await loadScripts(this.opts.redis);
    await this.routing.start();
  }

  /** Re-read loads; concurrent callers share one read. */
  refresh(force = false): Promise<void> {
    return this.routing.refresh(force);
  }

  queueFor(nodeId: string, name?: string): Queue {
    return this.queues.queueFor(nodeId, name);
  }

  /** Throws a SwarmError naming the field; touches nothing. */
  validate(input: unknown, where = ''): TaskInput {
    return validateTask(input, this.opts.config.http.maxJsonDepth, where);
  }

  /**
   * Picks a node with the task's strategy (or the swarm's), descending the
   * hierarchy; on a miss re-reads the roster once, since agents may just have joined.
   */
  async route(task: TaskInput, where = ''): Promise<string> {
    return await this.routing.route(task, where);
  }

  /**
   * Enqueue one validated task under a chosen id. Adding an id that exists is a
   * no-op in BullMQ, which is what makes retried intake and idempotent submits safe.
   */
  async enqueue(task: TaskInput, id: string): Promise<Submitted> {
    return await this.queues.enqueue(task, id);
  }

  /** BullMQ's add of a task with no key, built and not sent (NodeQueues.addOf). */
  addOf(task: TaskInput, id: string, commands: readonly string[]): { command: string; args: (string | number | Buffer)[] } | undefined {
    return this.queues.addOf(task, id, commands);
  }

  async submit(input: unknown): Promise<Submitted> {
    return await traced('swarmq.submit', {}, async (span) => {
      const task = this.validate(input);
      // Dates this submit's writes: a connection made again after it cannot confirm them.
      const writtenAt = Date.now();
      span.setAttribute('swarmq.task.type', task.type);
      // A key the list says has no budget skips even the await (as a start does).
      if (task.key !== undefined && !this.budgets.surelyWithout(task.key)) await this.budgets.check(task.key);
      if (task.consensus) {
        await this.routing.fresh(); // the replicas are placed on the roster as held: not on one too old to route on
        const replicated = await submitReplicated(this.replicatedSubmit(), task as ReplicatedTask);
        // The parent in the consensus queue, its replicas in node queues: all must be on a replica.
        await this.confirm([CONSENSUS_QUEUE, ...this.nodeIds().map(nodeQueueName)].map((q) => this.queueKey(q)), 'the task', undefined, writtenAt);
        return replicated;
      }
      const submitted =
        task.idempotencyKey !== undefined ? await submitIdempotent(this.idempotentSubmit(), task, task.idempotencyKey) : await this.enqueue(task, newTaskId(await this.route(task)));
      span.setAttributes({ 'swarmq.task.id': submitted.id, 'swarmq.node': submitted.node });
      const claim = task.idempotencyKey !== undefined ? [swarmKeys(this.prefix).idempotency(task.idempotencyKey)] : [];
      await this.confirm([this.queueKey(nodeQueueName(submitted.node)), ...claim], `task ${submitted.id}`, undefined, writtenAt);
      return submitted;
    });
  }

  /** All or none: staged in one step, then fanned out to the node queues (stagedBatch.ts). */
  async submitBatch(inputs: unknown[]): Promise<{ batchId: string; ids: string[] }> {
    const writtenAt = Date.now();
    const batch = await submitBatch(
      {
        maxBatch: this.opts.config.http.maxBatch,
        validate: (input, where) => this.validate(input, where),
        checkBudgets: async (keys) => void (await Promise.all(keys.map((k) => this.budgets.check(k)))),
        routeBatch: (tasks) => this.routing.routeBatch(tasks),
        claims: this.claims,
        get: (id) => this.get(id),
        record: async (batchId, ids) => {
          await this.opts.redis.set(swarmKeys(this.prefix).batchTasks(batchId), JSON.stringify(ids), 'EX', this.opts.config.tasks.keepCompletedSeconds);
        },
        enqueueAll: async (entries, batchId) =>
          await submitStaged(
            this.batchFanOut(),
            await Promise.all(
              entries.map(async ({ task, id }) => ({
                id,
                name: task.type,
                data: taskEnvelope(task),
                opts: taskJobOptions(task, id, this.opts.config.tasks),
                ...(task.key !== undefined ? { key: task.key, inc: await this.queues.weights.stepOf(task.key) } : {}),
              })),
            ),
            (err) => this.opts.onBatchLate?.(err),
            batchId,
          ),
      },
      inputs,
    );
    // Idempotency claims of a batch live in the swarm's slot.
    await this.confirm([swarmKeys(this.prefix).stats, ...batch.ids.map((id) => this.queueKey(nodeQueueName(nodeOfTaskId(id) ?? '')))], `the batch of ${batch.ids.length} tasks`, undefined, writtenAt);
    return batch;
  }

  /** A key in `queue`'s slot (queue names carry the hash tag). */
  queueKey(queue: string): string {
    return `${this.prefix}:${queue}`;
  }

  /**
   * With replicated durability, waits until a replica holds what this router
   * (or `wrote`) wrote to the slots of `keys`; with fast, nothing. A SwarmError 503 (not_replicated) when they do not confirm.
   */
  async confirm(keys: readonly string[], what: string, wrote: RedisClient = this.opts.redis, writtenAt?: number): Promise<void> {
    if (this.opts.config.durability.mode === 'fast') return;
    // WAIT covers the writes of the connection it is sent on: `wrote` is the one that wrote them (the router's own unless said).
    await confirmDurable(wrote, [...new Set(keys)], this.opts.config.durability, what, writtenAt);
  }

  async get(id: string): Promise<TaskView | null> {
    return await readTask(
      { redis: this.opts.redis, prefix: this.prefix, consensusQueue: () => this.queues.consensusQueue(), resumeBatch: (batchId) => resumeBatch(this.batchFanOut(), batchId) },
      id,
    );
  }

  /** Finishes the fan-out of batches whose submitter did not (the leader's sweep); resolves with how many. */
  async resumeDueBatches(limit?: number): Promise<number> {
    return await resumeDueBatches(this.batchFanOut(), limit);
  }

  private batchFanOut(): BatchFanOut {
    return {
      redis: this.opts.redis,
      prefix: this.prefix,
      queueFor: (name) => {
        const node = nodeOfQueueName(name);
        if (node !== undefined) return this.queues.queueFor(node);
        if (name === CONSENSUS_QUEUE) return this.queues.consensusQueue();
        throw new Error(`a staged batch names queue ${name}, which is neither a node's nor the consensus queue`);
      },
      keepSeconds: this.opts.config.tasks.keepCompletedSeconds,
      leaseMs: this.opts.batchLeaseMs ?? BATCH_LEASE_MS,
    };
  }

  /** Cancels a task, waiting or running (its host is told at once); a replicated task with all its replicas. */
  async cancel(id: string): Promise<CancelledView | CancelledReplicated> {
    return await this.cancelling<CancelledView | CancelledReplicated>((c) => (isReplicatedTaskId(id) ? cancelReplicatedTask(c, id) : cancelOne(c, id)));
  }

  /** Cancels every task of a batch (the batchId submitBatch returned) that has not finished. */
  async cancelBatch(batchId: string): Promise<BatchCancel> {
    return await this.cancelling((c) => cancelBatch(c, batchId));
  }

  /** Approves or rejects a task's output that awaits approval (src/coordinator/approvals.ts): the task as read after. */
  async decide(id: string, req: DecisionRequest): Promise<TaskView> {
    return await decide(
      {
        redis: this.opts.redis,
        prefix: this.prefix,
        get: (t) => this.get(t),
        confirm: (queue, what) => this.confirm([this.queueKey(queue)], what),
        ...(this.opts.onDecisionEventError ? { onEventError: this.opts.onDecisionEventError } : {}),
      },
      id,
      req,
    );
  }

  /** Tasks awaiting approval on the nodes of the roster (and replicated ones), soonest deadline first. */
  async awaitingApproval(limit: number): Promise<AwaitingPage> {
    // An idle router's roster may be old: nodes may have joined.
    return await listAwaiting({ redis: this.opts.redis, prefix: this.prefix, get: (t) => this.get(t) }, await this.freshNodeIds(), limit);
  }

  /** Runs a cancel, then wakes the hosts of the running tasks it cancelled, one notice per host. */
  private async cancelling<T>(run: (c: Cancelling) => Promise<T>): Promise<T> {
    const notices = new CancelNotices();
    const c: Cancelling = { redis: this.opts.redis, prefix: this.prefix, get: (taskId) => this.get(taskId), notice: (host, taskId) => notices.add(host, taskId) };
    try {
      return await run(c);
    } finally {
      this.control ??= new HostControl(this.opts.redis, this.prefix);
      await notices.send(this.control, (host, err) => this.opts.onCancelNoticeError?.(host, err));
    }
  }

  /** What an idempotent submit goes through: this router's own route, enqueue and get. */
  private idempotentSubmit(): IdempotentSubmit {
    return { claims: this.claims, route: (t) => this.route(t), enqueue: (t, id) => this.enqueue(t, id), get: (id) => this.get(id) };
  }

  /** What a replicated submit goes through: this router's roster, refresh and route (see submitReplicated.ts). */
  private replicatedSubmit(): ReplicatedSubmit {
    return {
      nodes: () => this.routing.nodes,
      refresh: () => this.refresh(true),
      route: (t) => this.route(t),
      addFlow: (flow) => this.queues.addFlow(flow),
      ...(isCluster(this.opts.redis) ? { stage: (jobs: BatchJob[]) => submitStaged(this.batchFanOut(), jobs, (err) => this.opts.onBatchLate?.(err)) } : {}),
      prefix: this.prefix,
      tasks: this.opts.config.tasks,
    };
  }

  get failedAfterMs(): number {
    return this.opts.config.agents.failedAfterMs;
  }

  /** The nodes of the roster as held now (it may be old on an idle router: freshNodeIds reads it again if so). */
  nodeIds(): string[] {
    return this.routing.nodes.map((n) => n.id);
  }

  /** The nodes of a roster no older than a route would use: for views (Bull Board, the dashboard's rates) on an idle router. */
  async freshNodeIds(): Promise<string[]> {
    return (await this.routing.fresh()).map((n) => n.id);
  }

  async close(): Promise<void> {
    await this.control?.close();
    await this.routing.close();
    await this.queues.close();
  }
}
