// One BullMQ Worker per node served by a host, shared by that host's agents in
// the node: concurrency is the sum of their capacities, and each job is handed
// to one agent with a free slot, which is recorded on the job.
import { DelayedError, RedisQueueBackend, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { processorFor, taskTypesOf, type ProcessorMap, type TaskContext, type UsageReceipt, type UsageReport } from './processor.ts';
import type { TaskEnvelope } from '../tasks/schema.ts';
import { AGENT_FIELD } from '../tasks/view.ts';
import { envelopeKey } from '../tasks/nodeJob.ts';
import { REPLICA_PROOF_FIELD } from '../consensus/runtime/replicaProof.ts';
import { PROBE_TASK } from '../health/probe.ts';
import { advance, CLOSED, cooldownLeft, recordResult, slots, type Breaker, type BreakerOptions, type BreakerStep, type BreakerTransition } from '../health/breaker.ts';
import type { Sandbox } from './sandbox.ts';
import type { Span } from '@opentelemetry/api';
import { traced } from '../tracing/spans.ts';
import { claimReplicaSeat, REPLICA_RETRY_MS } from './replicaSeat.ts';
import type { DurabilityPolicy } from '../../queues/durability.ts';
import { durableFinishes } from '../durability.ts';
import { confirmPickup, watchReconnects } from './durablePickup.ts';
import { handBackLater, isRetryLater } from './retryLater.ts';
import { isTaskRefused } from './taskRefused.ts';
import { TaskProgress, type ProgressSettings } from './taskProgress.ts';
import { PROGRESS_DEFAULTS } from '../tasks/progress.ts';
import { groupKeys } from '../../queues/keys.ts';
import { TaskCancelledError, type CancelEvent } from './cancelling.ts';
import { approvalPickup, awaitingRecord, holdForApproval, publishTimedOut, type ApprovalQueue } from '../tasks/approvalHold.ts';
import type { Pickup } from '../tasks/approval.ts';
import type { Admission, KeyGate } from './keyGate.ts';
import type { BudgetGate } from './budgetGate.ts';
import { BudgetExceededError } from './budgetStop.ts';

/** A keyed task whose key's state did not answer is handed back this long. */
const KEY_UNANSWERED_RETRY_MS = 1000;


export interface SeatedAgent {
  id: string;
  type: string;
  capacity: number;
  active: number;
  completed: number;
  failed: number;
  /** Takes no new task; leaves once its active ones are done. */
  retiring: boolean;
}

export interface NodeRunnerOptions {
  redis: RedisClient;
  prefix: string;
  /** With a host identity: its signature of a replica's output (replicaProof.ts), recorded in the finishing step. */
  signReplica?: (task: string, replica: string, agent: string, output: unknown) => string;
  nodeId: string;
  queue: string;
  hostId: string;
  agents: SeatedAgent[];
  processors: ProcessorMap;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  /** BullMQ's drainDelay: an idle Worker's blocking wait. */
  idleWaitSeconds: number;
  /** Runs some task types in BullMQ sandbox child processes. */
  sandbox?: Sandbox;
  onLostLock: (jobId: string, outcome: 'completed' | 'failed' | 'unknown') => void;
  /** Isolation of agents whose tasks keep failing (circuit breaker). */
  breaker: BreakerOptions;
  onBreaker: (agentId: string, transition: Exclude<BreakerTransition, null>, breaker: Breaker) => void;
  /** A task an agent ran succeeded, in this many ms (for its duration baseline). */
  onTaskDone: (agentId: string, type: string, ms: number) => void;
  /** A task failed its last attempt (BullMQ has moved it to failed). */
  onFinalFailure: (job: Job, err: Error) => void;
  onError: (err: Error) => void;
  /** When a finish counts as recorded: with `replicated`, once a replica has it (src/durability.ts). */
  durability: DurabilityPolicy;
  /** A finish was sent again, its first not confirmed by a replica (a failover). */
  onFinishRetry?: (jobId: string, why: string) => void;
  /** With replicated durability: a job handed back unrun because no replica confirmed its pickup. */
  onPickupUnconfirmed?: (jobId: string, why: string) => void;
  /** ctx.progress: how often a task's progress is written at most, and how big and deep a value may be (default PROGRESS_DEFAULTS). */
  progress?: ProgressSettings;
  /** How long a cancelled task's processor has to end after its signal is aborted before its slot is taken back. */
  cancelGraceMs: number;
  /** A running task was cancelled here: aborted, its late result refused, or its processor ignored the signal. */
  onCancel: (e: CancelEvent) => void;
  /** Keys' limits: a keyed task starts only once its key admits it (keyGate.ts). */
  keys?: KeyGate;
  /** Budgets: a keyed task starts only while its key's budget has room, and ctx.usage reports are counted (budgetGate.ts). */
  budgets?: BudgetGate;
}

function envelopeOf(data: unknown): TaskEnvelope {
  if (data && typeof data === 'object' && 'payload' in data) return data as TaskEnvelope;
  // A job put straight into a node queue by a plain BullMQ producer: its data is the payload.
  return { payload: data };
}

/** A job an agent is running; its AbortController is made only if someone asks for the signal or aborts. */
class Running {
  returned = false;
  /** Cancelled (cancelRunning-9.lua has already taken the job from its worker): its outcome is never recorded. */
  cancelled = false;
  /** Ends the wait for the processor once a cancel's grace period has passed. */
  private giveUp: ((err: Error) => void) | undefined;
  /** The processor's own work, still watched after a cancel's grace has passed. */
  work: Promise<unknown> | undefined;
  /** Stopped for a budget (its own, or its key's): the task fails with this, whatever its processor does. */
  stopped: BudgetExceededError | undefined;
  /** Its key, for stopping a spent key's runs. */
  key: string | undefined;
  /** Usage reports on their way to Redis: the task finishes only once they are counted. */
  readonly reports = new Set<Promise<unknown>>();
  private controller: AbortController | undefined;
  constructor(
    readonly job: Job,
    readonly token: string,
    readonly agentId: string,
  ) {}
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }
  abort(reason: Error): void {
    this.controller ??= new AbortController();
    this.controller.abort(reason);
  }
  /** The processor's work, or a rejection with `CancelIgnoredError` once a cancel's grace has passed without it ending. */
  guard<T>(work: Promise<T>): Promise<T> {
    this.work = work;
    return new Promise<T>((resolve, reject) => {
      this.giveUp = reject;
      work.then(resolve, reject);
    });
  }
  /** Aborts the signal with the budget's reason, and gives up on the processor after the grace; false when already ending. */
  stop(reason: BudgetExceededError, graceMs: number): boolean {
    if (this.cancelled || this.returned || this.stopped) return false;
    this.stopped = reason;
    this.abort(reason);
    setTimeout(() => this.giveUp?.(reason), graceMs).unref();
    return true;
  }
  /** Aborts the signal with a TaskCancelledError; false when already cancelled or handed back. */
  cancel(graceMs: number): boolean {
    if (this.cancelled || this.returned) return false;
    this.cancelled = true;
    this.abort(new TaskCancelledError(this.job.id ?? ''));
    setTimeout(() => this.giveUp?.(new CancelIgnoredError(graceMs)), graceMs).unref();
    return true;
  }
}

class CancelIgnoredError extends Error {
  constructor(graceMs: number) {
    super(`the processor did not end within ${graceMs} ms of its cancel`);
  }
}

const MISSING_KEY = /Missing key for job (\S+)\. /;

type MoveToFinishedArgs = (
  job: Parameters<RedisQueueBackend['moveToCompletedArgs']>[0],
  val: unknown,
  propVal: 'returnvalue',
  shouldRemove: Parameters<RedisQueueBackend['moveToCompletedArgs']>[2],
  target: 'completed',
  token: string,
  timestamp: number,
  fetchNext: boolean,
  fieldsToUpdate: Record<string, string>,
) => ReturnType<RedisQueueBackend['moveToCompletedArgs']>;

const LOST_LOCK = /(?:Missing lock|Lock mismatch) for job (\S+)\. /;

/**
 * BullMQ's Worker, telling the runner when its main loop has ended. The loop
 * ends when the Worker is paused with nothing running (so with every agent
 * isolated it is gone, not idle), and resume() starts a new one by calling
 * run() itself, a promise nobody would observe: here every run reports its
 * end and its error.
 */
class NodeWorker extends Worker {
  loopEnded: (err?: Error) => void = () => {};

  override async run(): Promise<void> {
    let failure: Error | undefined;
    try {
      await super.run();
    } catch (err) {
      failure = err as Error;
    }
    this.loopEnded(failure);
  }
}

export class NodeRunner {
  private worker: NodeWorker | undefined;
  /** The Worker start() was called for: it takes work whenever its agents have a slot. */
  private started: NodeWorker | undefined;
  private next = 0;
  /** Jobs this runner has running, with their token and abort controller, for drain. */
  private readonly running = new Map<string, Running>();
  /** Jobs whose processor has returned or thrown, with their agent, until BullMQ records the outcome. */
  private readonly finishing = new Map<string, { agent: string; outcome: 'completed' | 'failed'; proof?: string }>();
  private readonly breakers = new Map<string, Breaker>();
  /** When the last job here finished (or the runner started); null while any runs. */
  private idleFrom: number | null = Date.now();
  /** Where this node's outputs awaiting approval are parked and read (src/tasks/approvalHold.ts). */
  private readonly approvals: ApprovalQueue;

  constructor(private readonly o: NodeRunnerOptions) {
    this.approvals = { redis: o.redis, prefix: o.prefix, queue: o.queue, node: o.nodeId, durability: o.durability };
    this.worker = this.createWorker();
  }

  private createWorker(): NodeWorker {
    const o = this.o;
    const worker = new NodeWorker(o.queue, (job, token) => traced('swarmq.run', { 'swarmq.task.id': job.id ?? '', 'swarmq.task.type': job.name, 'swarmq.node': o.nodeId, 'swarmq.host': o.hostId }, (span) => this.run(job, token ?? '', span)), {
      connection: o.redis,
      prefix: o.prefix,
      concurrency: Math.max(1, this.capacity()),
      name: o.hostId,
      lockDuration: o.lockDurationMs,
      stalledInterval: o.stalledIntervalMs,
      maxStalledCount: o.maxStalledCount,
      drainDelay: o.idleWaitSeconds,
      autorun: false,
    });
    // Before recordAgentWithOutcome, which builds its finishes on BullMQ's (made durable here).
    if (!durableFinishes(worker, o.redis, o.durability, o.onFinishRetry, o.lockDurationMs)) throw new Error("swarmq agents need BullMQ's Redis backend");
    if (o.durability.mode === 'replicated') watchReconnects(o.redis);
    this.recordAgentWithOutcome(worker);
    worker.loopEnded = (err) => this.loopEnded(worker, err);
    const forget = (id: string | undefined) => {
      if (id === undefined) return;
      this.finishing.delete(id);
    };
    worker.on('error', (err) => {
      if (this.lateCancelled(err)) return;
      const m = LOST_LOCK.exec(err.message);
      if (m) {
        o.onLostLock(m[1]!, this.finishing.get(m[1]!)?.outcome ?? 'unknown');
        forget(m[1]);
      } else o.onError(err);
    });
    worker.on('completed', (job) => forget(job.id));
    // A cancel whose notice did not reach this host: the lock it took away is the other sign.
    worker.on('lockRenewalFailed', (ids: string[]) => void this.cancelRecorded(ids).catch((err: Error) => o.onError(err)));
    worker.on('failed', (job, err) => {
      forget(job?.id);
      // BullMQ sets finishedOn only when the failure is final (no retry left, or unrecoverable).
      if (job?.finishedOn) o.onFinalFailure(job, err);
    });
    return worker;
  }

  /**
   * The agent goes into the job hash in the very step that records the task's
   * outcome: BullMQ's finishing script takes fields to update, and only the
   * holder of the job's lock gets through it. So a finished task names the agent
   * that finished it, at no extra command, and a late finish from an agent that
   * lost the lock can never overwrite it.
   */
  private recordAgentWithOutcome(worker: Worker): void {
    const backend = worker.backend;
    if (!(backend instanceof RedisQueueBackend)) throw new Error("swarmq agents need BullMQ's Redis backend");
    const agentOf = (job: { id?: string | undefined }) => (job.id === undefined ? undefined : this.finishing.get(job.id)?.agent);
    const proofOf = (job: { id?: string | undefined }) => (job.id === undefined ? undefined : this.finishing.get(job.id)?.proof);
    const completedArgs = backend.moveToCompletedArgs.bind(backend);
    // Protected in BullMQ's typings only: the one call that takes fields to update on completion.
    const finishArgs = (backend as unknown as { moveToFinishedArgs: MoveToFinishedArgs }).moveToFinishedArgs.bind(backend);
    backend.moveToCompletedArgs = (job, returnvalue, removeOnComplete, token, fetchNext = false) => {
      const agent = agentOf(job);
      if (agent === undefined) return completedArgs(job, returnvalue, removeOnComplete, token, fetchNext);
      const proof = proofOf(job);
      return finishArgs(job, returnvalue, 'returnvalue', removeOnComplete, 'completed', token, Date.now(), fetchNext, { [AGENT_FIELD]: agent, ...(proof === undefined ? {} : { [REPLICA_PROOF_FIELD]: proof }) });
    };
    const failedArgs = backend.moveToFailedArgs.bind(backend);
    backend.moveToFailedArgs = (job, failedReason, removeOnFailed, token, fetchNext = false, fieldsToUpdate) => {
      const agent = agentOf(job);
      return failedArgs(job, failedReason, removeOnFailed, token, fetchNext, agent === undefined ? fieldsToUpdate : { ...fieldsToUpdate, [AGENT_FIELD]: agent });
    };
  }

  /**
   * Aborts those of these tasks that run here and whose cancel is recorded in
   * Redis (cancelRunning-9.lua took the job from this worker in that step): a
   * notice alone cancels nothing, so whoever can write the control queue
   * cannot stop work that was not cancelled. Each processor gets
   * `cancelGraceMs` to end; past that its slot is taken back and it is
   * reported. Resolves with how many were aborted.
   */
  async cancelRecorded(ids: readonly string[]): Promise<number> {
    const mine = ids.filter((id) => this.running.has(id));
    if (!mine.length) return 0;
    const marks = await this.o.redis.hmget(groupKeys(this.o.prefix, this.o.nodeId).cancelled, ...mine);
    let aborted = 0;
    mine.forEach((id, i) => {
      const entry = this.running.get(id);
      if (marks[i] === null || !entry?.cancel(this.o.cancelGraceMs)) return;
      aborted++;
      this.o.onCancel({ kind: 'aborted', taskId: id, agentId: entry.agentId, node: this.o.nodeId });
    });
    return aborted;
  }

  /** Tasks whose late finish was refused because they were cancelled, kept a moment so BullMQ's second refusal (its fail after the refused complete) is not reported twice. */
  private readonly refusedLate = new Set<string>();

  /**
   * A finish refused because the job's hash is gone: the task was cancelled
   * while its processor was ending, before the notice came. Its result is
   * counted, never recorded. Returns whether `err` was that.
   */
  private lateCancelled(err: Error): boolean {
    const id = MISSING_KEY.exec(err.message)?.[1];
    if (id === undefined) return false;
    if (this.refusedLate.has(id)) return true;
    const finishing = this.finishing.get(id);
    if (!finishing) return false;
    this.finishing.delete(id);
    this.refusedLate.add(id);
    setTimeout(() => this.refusedLate.delete(id), 10_000).unref();
    void this.o.redis.hexists(groupKeys(this.o.prefix, this.o.nodeId).cancelled, id).then(
      (cancelled) => {
        if (cancelled && finishing.outcome === 'completed') this.o.onCancel({ kind: 'result-refused', taskId: id, agentId: finishing.agent, node: this.o.nodeId });
        else if (!cancelled) this.o.onError(err);
      },
      () => this.o.onError(err),
    );
    return true;
  }

  /** Resolves when the Worker's connections are up (at once while hibernating). */
  async ready(): Promise<void> {
    await this.worker?.waitUntilReady();
  }

  /** Takes work from now on, whenever an agent has a slot (with every agent isolated, once one comes back). */
  start(): void {
    this.started = this.worker;
    this.resize();
  }

  /**
   * BullMQ's main loop ended. With slots to fill the Worker must run again:
   * resume() may have cleared the pause just as the old loop was ending, after
   * it could still wake it. An error is reported, not retried in a tight loop.
   */
  private loopEnded(w: NodeWorker, err: Error | undefined): void {
    if (err) {
      this.o.onError(err);
      return;
    }
    if (this.worker === w && this.started === w && !w.isPaused() && this.capacity() > 0) this.resize();
  }

  get hibernating(): boolean {
    return this.worker === undefined;
  }

  /** Idle (nothing running) for at least this long. */
  idleFor(now: number): number {
    return this.idleFrom === null ? 0 : now - this.idleFrom;
  }

  /** Close the Worker and its blocking connection; the node keeps its agents and its queue. */
  async hibernate(): Promise<void> {
    const w = this.worker;
    if (!w || this.running.size) return;
    this.worker = undefined;
    this.started = undefined;
    await w.close();
  }

  /** A fresh Worker for the node, taking work at once. */
  async wake(): Promise<void> {
    if (this.worker) return;
    const w = this.createWorker();
    this.worker = w;
    this.idleFrom = Date.now();
    await w.waitUntilReady();
    if (this.worker === w) this.start();
  }

  async close(force = false): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.started = undefined;
    await w?.close(force);
  }

  /** Slots of the agents still taking tasks (none for an isolated agent, fewer for one reintegrating). */
  private capacity(): number {
    let c = 0;
    for (const a of this.o.agents) if (!a.retiring) c += this.slotsOf(a);
    return c;
  }

  private slotsOf(a: SeatedAgent): number {
    return slots(this.breakers.get(a.id) ?? CLOSED, a.capacity, this.o.breaker);
  }

  /** A finished task counts for or against its agent; a change of breaker state resizes the Worker. */
  private judge(agent: SeatedAgent, ok: boolean): void {
    const step = recordResult(this.breakers.get(agent.id) ?? CLOSED, ok, Date.now(), this.o.breaker);
    this.breakers.set(agent.id, step.breaker);
    if (step.transition) this.applyBreaker(agent.id, step);
  }

  private applyBreaker(agentId: string, step: BreakerStep): void {
    this.resize();
    if (step.transition === 'isolated') this.endCooldownIn(agentId, this.o.breaker.cooldownMs);
    this.o.onBreaker(agentId, step.transition!, step.breaker);
  }

  /**
   * Brings an isolated agent back once its cool-down is over by the clock its
   * breaker was opened with. A timer may fire a millisecond before Date.now()
   * says its delay has passed, or the wall clock may have stepped back: then it
   * waits the rest, rather than leaving the agent isolated for good.
   */
  private endCooldownIn(agentId: string, ms: number): void {
    setTimeout(() => {
      const now = Date.now();
      const b = this.breakers.get(agentId) ?? CLOSED;
      const next = advance(b, now, this.o.breaker);
      this.breakers.set(agentId, next.breaker);
      if (next.transition) this.applyBreaker(agentId, next);
      else if (b.state === 'open') this.endCooldownIn(agentId, Math.max(1, cooldownLeft(b, now, this.o.breaker)));
    }, ms).unref();
  }

  agents(): readonly SeatedAgent[] {
    return this.o.agents;
  }

  /** More agents join this node on this host: the shared Worker takes more at once. */
  addAgents(agents: SeatedAgent[]): void {
    this.o.agents.push(...agents);
    this.resize();
  }

  /**
   * Brings the Worker in line with the agents' slots.
   *
   * None (every agent isolated or retiring): pause without waiting for the
   * running jobs, so nothing more is fetched, as a fetched job would have no
   * agent. Once those jobs end, BullMQ's main loop exits and the Worker no
   * longer runs at all.
   *
   * Some: the concurrency is the slots. A paused Worker, or one whose loop has
   * exited, is resumed: BullMQ's resume() starts a new main loop when the old
   * one has exited, and wakes it when it is still waiting on running jobs.
   * BullMQ's fetch loop, when full, sleeps until a running job ends and only
   * then reads the new concurrency, so an agent joining a busy node would idle
   * until then (for long tasks, minutes): pausing without waiting, then
   * resuming, wakes it and the new slots fetch at once.
   */
  private resize(): void {
    const w = this.worker;
    if (!w) return;
    const cap = this.capacity();
    const grew = cap > w.concurrency;
    if (cap > 0) w.concurrency = cap;
    // Before start() nothing is fetched; start() comes back here.
    if (this.started !== w) return;
    if (cap === 0) {
      if (!w.isPaused()) void w.pause(true).catch((err: Error) => this.o.onError(err));
      return;
    }
    if (w.isPaused() || !w.isRunning()) {
      void w.resume();
      return;
    }
    if (!grew) return;
    void (async () => {
      await w.pause(true);
      // A task may have isolated the last agents meanwhile: then the Worker stays paused.
      if (this.capacity() > 0) await w.resume();
    })().catch((err: Error) => this.o.onError(err));
  }

  /**
   * An agent leaves: no new task is handed to it; its running ones finish until
   * the deadline, then go back to the queue. Resolves when it holds nothing.
   * Returns whether the node has agents left on this host.
   */
  async retire(agentId: string, deadlineMs: number): Promise<{ returned: number; remaining: number }> {
    const agent = this.o.agents.find((a) => a.id === agentId);
    if (!agent) return { returned: 0, remaining: this.o.agents.length };
    agent.retiring = true;
    this.resize();
    const deadline = Date.now() + deadlineMs;
    while (agent.active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    let returned = 0;
    for (const entry of this.running.values()) {
      if (entry.agentId !== agentId) continue;
      try {
        await entry.job.moveToWait(entry.token);
        entry.returned = true;
        returned++;
        entry.abort(new Error(`agent ${agentId} retired; task returned to its queue`));
      } catch (err) {
        this.o.onError(err as Error);
      }
    }
    this.o.agents.splice(this.o.agents.indexOf(agent), 1);
    return { returned, remaining: this.o.agents.length };
  }

  /** Round-robin over agents with a free slot (the one named, if it has one). */
  private seat(preferred?: string): SeatedAgent | undefined {
    const named = preferred === undefined ? undefined : this.o.agents.find((a) => a.id === preferred);
    if (named && !named.retiring && named.active < this.slotsOf(named)) return named;
    const n = this.o.agents.length;
    for (let i = 0; i < n; i++) {
      const a = this.o.agents[(this.next + i) % n]!;
      if (!a.retiring && a.active < this.slotsOf(a)) {
        this.next = (this.next + i + 1) % n;
        return a;
      }
    }
    return undefined;
  }

  /**
   * A job BullMQ fetched while no agent has a free slot: agents were isolated
   * one after another faster than BullMQ's fetches already under way, which
   * were sized for the old concurrency, or a fetch was in flight as the Worker
   * paused. It goes back to the head of its queue, no attempt spent, and runs
   * when a slot frees (here, or wherever the balancer moves it).
   */
  private async giveBack(job: Job, token: string): Promise<never> {
    await job.moveToWait(token);
    throw new WaitingError();
  }

  /**
   * A replica of a replicated task runs only on an agent that runs no other
   * replica of it (claimed in Redis, replicaSeat.ts). With no such agent free
   * here it goes back to the queue for a moment (no attempt spent).
   */
  private async seatReplica(job: Job, token: string, r: { of: string; prefer: string }): Promise<SeatedAgent> {
    const free = this.o.agents.filter((a) => !a.retiring && a.active < this.slotsOf(a)).sort((a, b) => Number(b.id === r.prefer) - Number(a.id === r.prefer));
    const claimed = await claimReplicaSeat(this.o.redis, this.o.prefix, r.of, job.id ?? '', free.map((a) => a.id));
    const agent = free.find((a) => a.id === claimed);
    // Its slot may have gone to another job while we claimed: then try again shortly, holding the claim.
    if (agent && !agent.retiring && agent.active < this.slotsOf(agent)) return agent;
    await job.moveToDelayed(Date.now() + REPLICA_RETRY_MS, token);
    throw new DelayedError();
  }

  /**
   * Asks the task's key whether it may start (keyGate.ts), when its host's pool had nothing for it. Refused, the task
   * goes back to its queue delayed, no attempt spent: until its reserved start
   * (rate), the hold's end, or, held for an active slot, until a task of the
   * key ends and brings it back (at the latest HELD_RECHECK_MS).
   */
  private async admitKeyed(gate: KeyGate, key: string, job: Job, token: string): Promise<void> {
    let a: Admission;
    try {
      a = await gate.admitOne(key, job.id ?? '', job.attemptsMade, this.o.nodeId);
    } catch (err) {
      // The key's slot did not answer (on a Cluster, another master than the queue's): the task waits a moment, no attempt spent.
      this.o.onError(new Error(`key ${key}: task ${job.id} not admitted, handed back for ${KEY_UNANSWERED_RETRY_MS} ms: ${(err as Error).message}`));
      await job.moveToDelayed(Date.now() + KEY_UNANSWERED_RETRY_MS, token);
      throw new DelayedError(`key ${key} did not answer`);
    }
    if (a.admitted) return;
    await job.moveToDelayed(Date.now() + a.delayMs, token);
    throw new DelayedError(`key ${key}: ${a.reason === 'active' ? 'at its maxActive' : a.reason === 'rate' ? 'over its rate' : 'held (rate-limited by its provider)'}; back in ${a.delayMs} ms`);
  }

  private async run(job: Job, token: string, span?: Span): Promise<unknown> {
    const id = job.id ?? '';
    // Before anything runs: a pickup a failover could lose would run the task twice.
    // Handed back for as long as its lock holds: a failover that outlasts a few tries would leave it to the stalled check.
    const pickup = await confirmPickup(this.o.redis, job, token, this.o.durability, this.o.lockDurationMs);
    if (!pickup.confirmed) {
      this.o.onPickupUnconfirmed?.(id, pickup.why);
      throw new WaitingError();
    }
    if (job.name === PROBE_TASK) {
      // The health monitor's check that a replacement agent really takes work here.
      const agent = this.seat((job.data as { agent?: string } | null)?.agent) ?? (await this.giveBack(job, token));
      this.finishing.set(id, { agent: agent.id, outcome: 'completed' });
      return { agent: agent.id, host: this.o.hostId, node: this.o.nodeId };
    }
    const env = envelopeOf(job.data);
    // A task needing approval that comes back decided (or past its deadline) ends here, with no agent and no processor.
    let round = 1;
    let feedback: string | undefined;
    if (env.approval) {
      const step = await approvalPickup(this.approvals, id);
      if (step.kind !== 'run') return await this.endApproval(job, token, step);
      round = step.round;
      feedback = step.feedback;
    } else if (env.replica?.feedback !== undefined) {
      // A replica of a replicated task rejected with retry: its processor is told why, as a plain task's would be.
      round = env.replica.revision ?? 2;
      feedback = env.replica.feedback;
    }
    const processor = processorFor(this.o.processors, job.name);
    // A key swarmq's submit checked; a job put straight into a node queue with one that is not a key name runs without.
    const key = envelopeKey(env);
    const gate = key === undefined ? undefined : this.o.keys;
    if (!processor) {
      if (key !== undefined) this.o.keys?.forget(key, id);
      return await this.refuseUnknownType(job, token);
    }
    // --- budgets: a spent key's task waits for the period (no attempt spent) or fails, before its limits are asked (budgetGate.ts).
    // (A key the list says has no budget skips even the await; a pool's start does too: no Redis either way.)
    if (key !== undefined && this.o.budgets && !this.o.budgets.budgets.surelyWithout(key)) await this.admitBudget(this.o.budgets, key, job, token);
    // Over its key's limits: back to its queue, delayed, no attempt spent (BullMQ's moveToDelayed keeps attempts).
    if (gate && key !== undefined && !gate.fromPool(key, id)) await this.admitKeyed(gate, key, job, token);
    let agent: SeatedAgent;
    try {
      agent = env.replica ? await this.seatReplica(job, token, env.replica) : (this.seat() ?? (await this.giveBack(job, token)));
    } catch (err) {
      if (gate && key !== undefined) gate.release(key, id);
      throw err;
    }
    span?.setAttribute('swarmq.agent', agent.id);
    agent.active++;
    this.idleFrom = null;
    const entry = new Running(job, token, agent.id);
    entry.key = key;
    this.running.set(id, entry);
    // Made on the first report, as the progress reporter is: a task that reports no usage costs nothing.
    let usage: ((value: unknown) => Promise<UsageReceipt>) | undefined;
    let reporter: TaskProgress | undefined;
    let ended = false;
    const ctx: TaskContext = {
      taskId: id,
      agentId: agent.id,
      nodeId: this.o.nodeId,
      attempt: job.attemptsMade + 1,
      ...(feedback !== undefined ? { feedback, revision: round } : {}),
      get signal() {
        return entry.signal;
      },
      // Made on the first report: a task that reports nothing costs nothing. A report after the finish (a processor still running past its timeout) is dropped.
      progress: (value) => {
        if (!ended) (reporter ??= this.progressOf(id, token)).report(value);
      },
      ...(gate && key !== undefined ? { key, holdKey: (ms: number) => gate.hold(key, ms) } : key !== undefined ? { key } : {}),
      usage: (value) => (ended ? Promise.resolve({ task: null, key: null }) : (usage ??= this.usageOf(entry, job, env))(value)),
    };
    let timer: NodeJS.Timeout | undefined;
    /** The output went to await approval: the DelayedError that ends the run is not a failure. */
    let held = false;
    const t0 = performance.now();
    try {
      const sandbox = this.o.sandbox;
      const work = entry.guard(
        sandbox?.covers(job.name)
          ? sandbox.run(job, token, env.payload, { taskId: id, agentId: agent.id, nodeId: this.o.nodeId, attempt: ctx.attempt, ...(feedback !== undefined ? { feedback, revision: round } : {}), ...(key !== undefined ? { key } : {}) }, entry.signal, ctx.progress, this.o.progress ?? PROGRESS_DEFAULTS, {
              usage: (value: unknown) => ctx.usage(value as UsageReport),
              ...(ctx.holdKey ? { holdKey: ctx.holdKey } : {}),
            })
          : Promise.resolve().then(() => processor(env.payload, ctx)),
      );
      const result = env.timeoutMs
        ? await Promise.race([
            work,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                const err = new Error(`task ${id} timed out after ${env.timeoutMs} ms`);
                entry.abort(err);
                reject(err);
              }, env.timeoutMs);
            }),
          ])
        : await work;
      if (entry.cancelled) this.refuseResult(entry, agent);
      if (entry.returned) throw new WaitingError();
      // Its last reports counted before it finishes: one of them may stop it.
      await this.settleReports(entry);
      if (entry.stopped) throw entry.stopped;
      // The last value reported, before the finish: a watcher sees it, then `finished`.
      if (reporter) await reporter.flush();
      if (env.approval) {
        held = true;
        await this.holdOutput(job, token, agent, awaitingRecord(env.approval, result, agent.id, round));
        agent.completed++;
        this.judge(agent, true);
        this.o.onTaskDone(agent.id, job.name, performance.now() - t0);
        throw new DelayedError();
      }
      const proof = env.replica && this.o.signReplica?.(env.replica.of, id, agent.id, result);
      this.finishing.set(id, { agent: agent.id, outcome: 'completed', ...(proof ? { proof } : {}) });
      agent.completed++;
      this.judge(agent, true);
      this.o.onTaskDone(agent.id, job.name, performance.now() - t0);
      return result;
    } catch (err) {
      if (held) throw err;
      if (entry.cancelled) this.endCancelled(entry, agent, err);
      if (entry.returned) throw new WaitingError();
      if (reporter) await reporter.flush();
      await this.settleReports(entry);
      // Stopped for a budget: it fails for good with the reason (another attempt would spend past the same budget); not the agent's fault.
      if (entry.stopped) {
        this.finishing.set(id, { agent: agent.id, outcome: 'failed' });
        agent.failed++;
        throw new UnrecoverableError(entry.stopped.message);
      }
      // The processor asked for the task later (an HTTP agent's 429 with Retry-After): no attempt spent, nothing said of the agent's health.
      // With a key, its provider is what said so: every host holds the key's tasks as long.
      if (isRetryLater(err)) {
        if (gate && key !== undefined) await gate.hold(key, err.delayMs).catch((e: Error) => this.o.onError(new Error(`key ${key} not held: ${e.message}`)));
        return await handBackLater(job, token, err);
      }
      this.finishing.set(id, { agent: agent.id, outcome: 'failed' });
      agent.failed++;
      // Refused by its service (an HTTP agent's 4xx): the task is at fault and the service is up, so the agent's breaker does not count it.
      if (!isTaskRefused(err)) this.judge(agent, false);
      throw err;
    } finally {
      ended = true;
      reporter?.discard();
      clearTimeout(timer);
      agent.active--;
      if (gate && key !== undefined) gate.release(key, id);
      this.running.delete(id);
      if (this.running.size === 0) this.idleFrom = Date.now();
    }
  }

  /**
   * A spent key's task, before it takes a slot: it waits, delayed until the
   * period resets (a raised budget brings it back sooner), no attempt spent;
   * or, by its budget's setting, fails now. Keys without a budget cost nothing.
   */
  private async admitBudget(budgets: BudgetGate, key: string, job: Job, token: string): Promise<void> {
    let a: Awaited<ReturnType<BudgetGate['admit']>>;
    try {
      a = await budgets.admit(key, job.id ?? '', this.o.nodeId);
    } catch (err) {
      this.o.onError(new Error(`key ${key}: task ${job.id}'s budget not checked, handed back for ${KEY_UNANSWERED_RETRY_MS} ms: ${(err as Error).message}`));
      await job.moveToDelayed(Date.now() + KEY_UNANSWERED_RETRY_MS, token);
      throw new DelayedError(`key ${key}'s budget did not answer`);
    }
    if (a.admitted) return;
    if (a.verdict === 'fail') throw new UnrecoverableError(a.reason);
    await job.moveToDelayed(Date.now() + a.delayMs, token);
    throw new DelayedError(a.reason);
  }

  /** The run's ctx.usage: each report checked at once, then counted (its task's totals, its key's spend) while the processor goes on. */
  private usageOf(entry: Running, job: Job, env: TaskEnvelope): (value: unknown) => Promise<UsageReceipt> {
    const budgets = this.o.budgets;
    const task = { taskId: job.id ?? '', type: job.name, node: this.o.nodeId, key: entry.key, budget: env.budget, alerted: new Set<number>(), stop: (err: BudgetExceededError) => void entry.stop(err, this.o.cancelGraceMs) };
    return (value) => {
      if (!budgets) return Promise.resolve({ task: null, key: null });
      const u = budgets.check(value);
      const sent = budgets.report(task, u);
      const counted = sent.catch((err: Error) => this.o.onError(new Error(`usage of task ${task.taskId} not recorded: ${err.message}`)));
      entry.reports.add(counted);
      void counted.finally(() => entry.reports.delete(counted));
      return sent;
    };
  }

  private async settleReports(entry: Running): Promise<void> {
    while (entry.reports.size) await Promise.all([...entry.reports]);
  }

  /** Stops this runner's running tasks of a spent key (but `except`); how many. */
  stopKey(key: string, except: string | undefined, reason: (taskId: string) => BudgetExceededError): number {
    let n = 0;
    for (const [id, entry] of this.running) {
      if (entry.key === key && id !== except && entry.stop(reason(id), this.o.cancelGraceMs)) n++;
    }
    return n;
  }

  /**
   * Parks a finished output to await approval (the agent is free once this
   * returns). A job that is no longer this holder's (cancelled meanwhile, or
   * its lock lost to a stall) keeps nothing of it: counted, as a late finish is.
   */
  private async holdOutput(job: Job, token: string, agent: SeatedAgent, awaiting: ReturnType<typeof awaitingRecord>): Promise<void> {
    const id = job.id ?? '';
    const res = await holdForApproval(this.approvals, id, token, awaiting, (err) => this.o.onError(new Error(`the output of task ${id} awaits approval, not yet confirmed by a replica: ${err.message}`)));
    if (res === 'gone') this.o.onCancel({ kind: 'result-refused', taskId: id, agentId: agent.id, node: this.o.nodeId });
    else if (res !== 'awaiting') this.o.onLostLock(id, 'completed');
  }

  /**
   * An approval task back from waiting, decided or past its deadline: it
   * completes with the output that waited (recorded as its agent's), fails for
   * good (rejected, timed out), or, promoted early with no decision (Bull
   * Board's promote), goes back to waiting until its deadline.
   */
  private async endApproval(job: Job, token: string, step: Exclude<Pickup, { kind: 'run' }>): Promise<unknown> {
    const id = job.id ?? '';
    switch (step.kind) {
      case 'complete':
        if (step.agent !== null) this.finishing.set(id, { agent: step.agent, outcome: 'completed' });
        return step.output;
      case 'fail':
        if (step.agent !== null) this.finishing.set(id, { agent: step.agent, outcome: 'failed' });
        if (step.timedOut) await publishTimedOut(this.approvals, { id, type: job.name }, step.round).catch((err: Error) => this.o.onError(err));
        throw new UnrecoverableError(step.reason);
      case 'hold': {
        const res = await holdForApproval(this.approvals, id, token, step.awaiting);
        if (res !== 'awaiting' && res !== 'gone') this.o.onLostLock(id, 'unknown');
        throw new DelayedError();
      }
    }
  }

  private progressOf(id: string, token: string): TaskProgress {
    const o = this.o;
    return new TaskProgress({ redis: o.redis, prefix: o.prefix, queue: o.queue, id, token, settings: o.progress ?? PROGRESS_DEFAULTS, onError: (err) => o.onError(new Error(`progress of task ${id} not recorded: ${err.message}`)) });
  }

  /**
   * A cancelled task's processor returned: the result is counted, not recorded
   * (the job is gone from the queue). Cancelling says nothing of the agent's
   * health: its breaker does not count it.
   */
  private refuseResult(entry: Running, agent: SeatedAgent): never {
    this.o.onCancel({ kind: 'result-refused', taskId: entry.job.id ?? '', agentId: agent.id, node: this.o.nodeId });
    throw new WaitingError();
  }

  /**
   * A cancelled task's processor threw (as a processor that honours its signal
   * does), or ignored its signal past the grace period: then its slot is freed
   * now (run() ends, so BullMQ and the agent count it free) while the work runs
   * on unobserved; a result it returns later is still counted as refused.
   */
  private endCancelled(entry: Running, agent: SeatedAgent, err: unknown): never {
    if (err instanceof CancelIgnoredError) {
      const e = { taskId: entry.job.id ?? '', agentId: agent.id, node: this.o.nodeId };
      this.o.onCancel({ kind: 'ignored-signal', ...e });
      entry.work?.then(
        () => this.o.onCancel({ kind: 'result-refused', ...e }),
        () => {},
      );
    }
    throw new WaitingError();
  }

  /**
   * A task type this host has no processor for fails at once, for good (no
   * agent here would run it on a retry), naming the agent that took it; it
   * says nothing about that agent's health, so its breaker does not count it.
   */
  private async refuseUnknownType(job: Job, token: string): Promise<never> {
    const agent = this.seat() ?? (await this.giveBack(job, token));
    this.finishing.set(job.id ?? '', { agent: agent.id, outcome: 'failed' });
    const types = taskTypesOf(this.o.processors);
    const shown = types.length > 20 ? `${types.slice(0, 20).join(', ')}, … (${types.length})` : types.join(', ');
    throw new UnrecoverableError(
      `agent ${agent.id} (host ${this.o.hostId}, node ${this.o.nodeId}) has no processor for task type ${JSON.stringify(job.name)}; ` +
        `its host runs ${shown || 'no task type'}. Submit one of those, or start agents with --processors exporting ${JSON.stringify(job.name)}`,
    );
  }

  activeCount(): number {
    return this.running.size;
  }

  /**
   * Stop taking jobs; let running ones finish until the deadline, then hand the
   * rest back to the queue's wait list (not failed, no attempt spent) and abort them.
   */
  async drain(deadlineMs: number): Promise<{ finished: number; returned: number }> {
    const before = this.running.size;
    const worker = this.worker;
    this.worker = undefined;
    this.started = undefined;
    if (!worker) return { finished: 0, returned: 0 };
    const closing = worker.close();
    const deadline = new Promise<'late'>((r) => setTimeout(() => r('late'), deadlineMs).unref());
    if ((await Promise.race([closing.then(() => 'done' as const), deadline])) === 'done') return { finished: before, returned: 0 };
    let returned = 0;
    for (const entry of this.running.values()) {
      try {
        await entry.job.moveToWait(entry.token);
        entry.returned = true;
        returned++;
        entry.abort(new Error('agent host shutting down; task returned to its queue'));
      } catch (err) {
        this.o.onError(err as Error);
      }
    }
    await Promise.race([closing, new Promise((r) => setTimeout(r, 1000).unref())]);
    if (this.running.size) await worker.close(true);
    return { finished: before - returned, returned };
  }
}
