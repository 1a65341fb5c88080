// The TypeScript client: submits straight to node queues with the same router
// the coordinator uses, so a submit is one round trip to Redis, as with BullMQ.
import { connectRedis, fromGiven, type RedisClient, type RedisGiven } from '../../queues/redisTarget.ts';
import { ensureConnected } from '../../queues/connection.ts';
import { swarmConfigSchema, type SwarmConfigInput } from '../config/schema.ts';
import { TaskRouter, type Submitted } from '../coordinator/router.ts';
import type { CancelledView } from '../coordinator/cancel.ts';
import type { BatchCancel } from '../coordinator/cancelBatch.ts';
import type { CancelledReplicated } from '../coordinator/cancelReplicated.ts';
import { isRedisDown, SwarmError } from '../errors.ts';
import { EventReader } from '../swarm/eventReader.ts';
import { isSwarmEventType, type SwarmEvent, type SwarmEventData, type SwarmEventType } from '../swarm/eventSchemas.ts';
import type { TaskInput, TaskView } from '../tasks/schema.ts';
import { TaskWatch } from '../coordinator/taskWatch.ts';
import { resumePointSchema, type ResumePoint, type TaskEvent } from '../tasks/taskEvents.ts';
import { approveBodySchema, rejectBodySchema, type Approver } from '../tasks/approval.ts';
import type { AwaitingPage } from '../coordinator/approvals.ts';
import { describeIssues } from '../validation.ts';
import type { z } from 'zod';
import { checkKeyName, parseKeyLimits, readKeys, readOneKey, setKeyLimits, type KeyView } from '../keys/keyAdmin.ts';
import { parseKeyBudget, readKeyBudget, setKeyBudget } from '../budgets/budgetAdmin.ts';
import type { BudgetView } from '../budgets/budgetView.ts';
import type { KeyBudgetInput } from '../budgets/budget.ts';
import type { KeyLimits } from '../keys/limits.ts';

export interface SwarmClientOptions {
  /**
   * Where Redis is: a URL, a Redis Cluster's seed URLs separated by commas, or a
   * RedisTarget (a Sentinel-managed primary too); or an ioredis Redis or Cluster
   * the client may share (it is not closed by the client).
   */
  redis: RedisGiven;
  prefix?: string;
  /** Any other swarm settings (routing snapshot interval, retention, …). */
  config?: Omit<SwarmConfigInput, 'redisUrl' | 'prefix'>;
  /** A handler given to `on` threw (default: a process warning); the other handlers still run. */
  onHandlerError?: (err: unknown, event: SwarmEvent) => void;
  /** How approvals and rejections made through this client are recorded (`by.via`): `client`, or `cli` for the swarmq CLI. */
  via?: 'client' | 'cli';
}

export type SwarmEventHandler<T extends SwarmEventType> = (data: SwarmEventData<T>, event: SwarmEvent<T>) => void;

export interface Subscription {
  /** Resolves once events published from now on will reach the handler. */
  ready: Promise<void>;
  off(): void;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

export class SwarmClient {
  private readonly redis: RedisClient;
  private readonly ownsRedis: boolean;
  private readonly router: TaskRouter;
  private ready: Promise<void> | undefined;
  private readonly prefix: string;
  private events: EventReader | undefined;
  private readonly handlers = new Map<SwarmEventType, Set<(e: SwarmEvent) => void>>();

  constructor(private readonly opts: SwarmClientOptions) {
    const config = swarmConfigSchema.parse({ ...opts.config, ...(opts.prefix ? { prefix: opts.prefix } : {}) });
    const given = fromGiven(opts.redis);
    this.ownsRedis = 'target' in given;
    this.redis =
      'target' in given
        ? connectRedis(given.target, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true, connectionName: 'swarmq:client' })
        : given.client;
    if (this.ownsRedis) this.redis.on('error', () => {});
    this.router = new TaskRouter({ redis: this.redis, config });
    this.prefix = config.prefix;
  }

  /**
   * Calls `handler` with each `type` event published from now on, by any
   * process of the swarm. The first `on` opens one blocking connection for all
   * of this client's subscriptions; `close()` closes it.
   */
  on<T extends SwarmEventType>(type: T, handler: SwarmEventHandler<T>): Subscription {
    if (!isSwarmEventType(type)) throw new SwarmError('invalid_request', `unknown event type ${JSON.stringify(type)}`);
    // The reader dispatches by type, so each event reaching this wrapper is a SwarmEvent<T>.
    const wrapped = (e: SwarmEvent) => handler(e.data as SwarmEventData<T>, e as SwarmEvent<T>);
    const set = this.handlers.get(type) ?? new Set();
    set.add(wrapped);
    this.handlers.set(type, set);
    this.events ??= new EventReader({
      redis: this.redis,
      prefix: this.prefix,
      onEvent: (e) => this.dispatch(e),
    });
    return { ready: this.events.ready, off: () => set.delete(wrapped) };
  }

  private dispatch(e: SwarmEvent): void {
    for (const h of this.handlers.get(e.type) ?? []) {
      try {
        h(e);
      } catch (err) {
        if (this.opts.onHandlerError) this.opts.onHandlerError(err, e);
        else process.emitWarning(`a swarmq ${e.type} handler threw: ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }

  private start(): Promise<void> {
    this.ready ??= (async () => {
      await ensureConnected(this.redis);
      await this.router.start();
    })();
    return this.ready;
  }

  async submit(task: TaskInput): Promise<Submitted> {
    await this.start();
    return await this.router.submit(task);
  }

  /** All or none; `batchId` cancels the batch as a whole (cancelBatch). */
  async submitBatch(tasks: TaskInput[]): Promise<{ batchId: string; ids: string[] }> {
    await this.start();
    return await this.router.submitBatch(tasks);
  }

  async get(id: string): Promise<TaskView | null> {
    await this.start();
    return await this.router.get(id);
  }

  /**
   * Approves a task's output that awaits approval: the task completes with it.
   * `by` is recorded as who approved (your word for it: a client holds Redis
   * credentials, which prove nothing more); `round` refuses the approval if
   * another output awaits by now. A task not awaiting is a SwarmError
   * (conflict, naming its state); none of that id, not_found.
   */
  async approve(id: string, opts: { by?: string; round?: number } = {}): Promise<TaskView> {
    const body = this.checked(approveBodySchema, { ...(opts.by !== undefined ? { by: opts.by } : {}) }, 'approve');
    await this.start();
    return await this.router.decide(id, { decision: 'approved', by: this.approver(body.by), ...(opts.round !== undefined ? { round: opts.round } : {}) });
  }

  /**
   * Rejects a task's output that awaits approval: the task fails with the
   * reason, or with `retry` runs again, its processor given the reason as
   * `ctx.feedback`. Errors as for approve.
   */
  async reject(id: string, opts: { reason: string; retry?: boolean; by?: string; round?: number }): Promise<TaskView> {
    const body = this.checked(rejectBodySchema, { reason: opts.reason, ...(opts.retry !== undefined ? { retry: opts.retry } : {}), ...(opts.by !== undefined ? { by: opts.by } : {}) }, 'reject');
    await this.start();
    return await this.router.decide(id, { decision: 'rejected', by: this.approver(body.by), reason: body.reason, retry: body.retry === true, ...(opts.round !== undefined ? { round: opts.round } : {}) });
  }

  /** Tasks whose output awaits approval, soonest deadline first (at most `limit`, default 20). */
  async awaitingApproval({ limit = 20 }: { limit?: number } = {}): Promise<AwaitingPage> {
    await this.start();
    return await this.router.awaitingApproval(Math.max(1, Math.min(200, Math.floor(limit))));
  }

  private approver(name: string | undefined): Approver {
    return { via: this.opts.via ?? 'client', ...(name !== undefined ? { name } : {}) };
  }

  private checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
    const r = schema.safeParse(value);
    if (!r.success) throw new SwarmError('invalid_request', `${what}: ${describeIssues(r.error)}`);
    return r.data;
  }

  /** Resolves with the task once it is completed, failed or cancelled (a task awaiting approval has not finished: it is waited for). */
  async waitFor(id: string, { timeoutMs = 30_000 }: { timeoutMs?: number } = {}): Promise<TaskView> {
    await this.start();
    const deadline = Date.now() + timeoutMs;
    let pause = 2;
    for (;;) {
      let t: TaskView | null;
      try {
        t = await this.router.get(id);
      } catch (err) {
        // Ride out a Redis restart or failover until the deadline.
        if (!isRedisDown(err) || Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (!t) throw new SwarmError('not_found', `no task ${id}`);
      if (FINAL.has(t.state)) return t;
      if (Date.now() >= deadline) throw new SwarmError('conflict', `task ${id} still ${t.state} after ${timeoutMs} ms`, { state: t.state });
      await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(1, deadline - Date.now()))));
      pause = Math.min(pause * 2, 200);
    }
  }

  /**
   * The task's events as they happen (`started`, `progress`, `retrying`,
   * `finished`), ending after `finished`: `for await (const e of
   * swarm.watch(id))`. A watch starting now is told the task's state so far
   * (`started` and its latest progress if it runs, or only `finished`);
   * `after` (an event's id) resumes a watch instead. Breaking out of the loop
   * closes the watch's connection. Throws not_found for no such task.
   */
  async *watch(id: string, { after }: { after?: string } = {}): AsyncGenerator<TaskEvent, void, undefined> {
    await this.start();
    let resume: ResumePoint | undefined;
    if (after !== undefined) {
      const p = resumePointSchema.safeParse(after);
      if (!p.success) throw new SwarmError('invalid_request', `watch: after must be an event id from this task's watch (<node>@<ms>-<seq>), got ${JSON.stringify(after)}`);
      resume = p.data;
    }
    const w = await TaskWatch.open({ redis: this.redis, prefix: this.prefix, id, read: (t) => this.router.get(t), ...(resume ? { after: resume } : {}) });
    try {
      yield* w.events();
    } finally {
      await w.close();
    }
  }

  /**
   * Cancels a task, waiting or running: a running one's processor sees
   * `ctx.signal` aborted, and the task ends cancelled, never retried, its
   * result refused. A replicated task is cancelled with its replicas. A
   * finished task is a SwarmError (conflict).
   */
  async cancel(id: string): Promise<CancelledView | CancelledReplicated> {
    await this.start();
    return await this.router.cancel(id);
  }

  /** Cancels every task of a batch (the batchId submitBatch returned) that has not finished. */
  async cancelBatch(batchId: string): Promise<BatchCancel> {
    await this.start();
    return await this.router.cancelBatch(batchId);
  }

  /** Every key a task has carried or that has limits, with its limits and counts (as GET /api/keys). */
  async keys(): Promise<KeyView[]> {
    await this.start();
    return await readKeys(this.redis, this.prefix);
  }

  /** One key's limits and counts (as GET /api/keys/:key). */
  async key(name: string): Promise<KeyView> {
    await this.start();
    return await readOneKey(this.redis, this.prefix, checkKeyName(name));
  }

  /**
   * Replaces a key's limits, swarm-wide (as PUT /api/keys/:key/limits): a field
   * left out is no such limit. Rates as `'20/s'` or `{ max, perMs }`. Needs a
   * Redis user that may write limits (the coordinator's or the operator's).
   */
  async setKeyLimits(name: string, limits: KeyLimits | { maxActive?: number; rate?: string | KeyLimits['rate']; weight?: number }): Promise<KeyView> {
    await this.start();
    return await setKeyLimits(this.redis, this.prefix, checkKeyName(name), parseKeyLimits(limits), (node) => this.router.queueFor(node));
  }

  /** A key's budget and its spend this period (as GET /api/keys/:key/budget). */
  async keyBudget(name: string): Promise<BudgetView> {
    await this.start();
    return await readKeyBudget(this.redis, this.prefix, checkKeyName(name));
  }

  /**
   * Replaces a key's budget, swarm-wide (as PUT /api/keys/:key/budget):
   * `{ tokens?, costUsd?, period?, queued?, running? }`; `{}` clears it. Tasks
   * that waited for it are checked again at once. Needs a Redis user that may
   * write budgets (the coordinator's or the operator's).
   */
  async setKeyBudget(name: string, budget: KeyBudgetInput): Promise<BudgetView> {
    await this.start();
    return await setKeyBudget(this.redis, this.prefix, checkKeyName(name), parseKeyBudget(budget), (node) => this.router.queueFor(node));
  }

  async close(): Promise<void> {
    await this.events?.close();
    await this.ready?.catch(() => {});
    await this.router.close();
    if (this.ownsRedis) this.redis.disconnect();
  }
}
