// Routes the intake queue in batches. A BullMQ Worker would fetch, route and
// finish one intake job per round trip each; here a taker takes up to `batch`
// waiting jobs in one command (BullMQ's own moveToActive, run for each in one
// script), routes them all, records each one's task id in one round trip,
// adds the tasks, and finishes the jobs in one command (BullMQ's own
// moveToFinished for each). The jobs pass through the states a Worker gives
// them, locked while taken, so a taker that dies leaves them to BullMQ's
// stalled check, and a job taken again keeps its first task id.
import { randomBytes } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import { checkIntakeStalled, finishIntake, LANDING_ADDS, landIntake, takeIntake, type IntakeFinish, type IntakeLanding, type IntakeOutcome, type TakenIntake } from '../../queues/intakeBatch.ts';
import { INTAKE_QUEUE, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { duplicateClient, type RedisClient } from '../../queues/redisTarget.ts';
import type { Logger } from '../log.ts';
import { newTaskId, nodeOfTaskId } from '../tasks/ids.ts';
import type { TaskInput } from '../tasks/schema.ts';
import { checkBytes, intakeTaskInput, intakeVerdict } from './intake.ts';
import type { TaskRouter } from './router.ts';

export interface IntakeDrainOptions {
  router: TaskRouter;
  /** For the takes and finishes (commands only: the blocking wait has a connection of its own, a duplicate). */
  connection: RedisClient;
  prefix: string;
  keepSeconds: number;
  /** The HTTP body limit (http.bodyLimitBytes), applied to a job's data as JSON. */
  maxBytes: number;
  /** How long a taken job stays locked (agents.lockDurationMs): routing one takes milliseconds. */
  lockMs: number;
  /** How often BullMQ's stalled check runs on the intake queue (agents.stalledIntervalMs). */
  stalledIntervalMs: number;
  /** Jobs taken at once. */
  batch?: number;
  /** Takers routing batches side by side. */
  takers?: number;
  /**
   * Each job's task added and the job completed in one script (landIntake-15.lua): on one Redis (a Cluster puts the
   * intake and node queues in different slots) and with `fast` durability (with `replicated` the task must be on a
   * replica before its job completes, so the steps stay apart with a WAIT between).
   */
  landInOneStep: boolean;
  logger: Logger;
}

const RETRY_TRANSIENT_MS = 1000;
/** Longest blocking wait for new intake jobs, so a stop or a due delayed job is not kept waiting. */
const IDLE_WAIT_MS = 1000;
/** A job stalls when its taker died holding it; BullMQ's Worker default: once is forgiven, the next time it fails. */
const MAX_STALLED = 1;
/** How long a stop waits for the batches being routed. */
const STOP_WAIT_MS = 5000;

/** One job of a batch on its way: the task it asks for, then where it goes, or how it ends without a task. */
interface Routing {
  job: Job;
  task?: TaskInput;
  node?: string;
  id?: string;
  /** Set once the job's fate is known: landed (added and completed in one step), failed with a reason, or deferred (routed again later). */
  outcome?: IntakeOutcome | 'defer' | 'landed';
}

export class IntakeDrain {
  private readonly queue: Queue;
  private readonly blocker: RedisClient;
  private readonly taker = randomBytes(6).toString('hex');
  private tokens = 0;
  private closing = false;
  private waking: Promise<void> | undefined;
  private takers: Promise<void>[] = [];
  private stalledTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: IntakeDrainOptions) {
    this.queue = new Queue(INTAKE_QUEUE, { connection: o.connection, prefix: o.prefix });
    this.queue.on('error', () => {});
    this.blocker = duplicateClient(o.connection, { connectionName: 'swarmq:coordinator:intake-wait' });
    this.blocker.on('error', () => {});
  }

  start(): void {
    this.takers = Array.from({ length: this.o.takers ?? 2 }, () => this.take());
    const check = () =>
      void checkIntakeStalled(this.o.connection, this.queue, { maxStalledCount: MAX_STALLED, stalledIntervalMs: this.o.stalledIntervalMs }).catch((err: Error) =>
        this.o.logger.debug({ err: err.message }, 'intake stalled check failed'),
      );
    check();
    this.stalledTimer = setInterval(check, this.o.stalledIntervalMs);
  }

  async stop(): Promise<void> {
    this.closing = true;
    clearInterval(this.stalledTimer);
    this.blocker.disconnect();
    // A batch held up by Redis being away is left locked: the stalled check gives it to another coordinator.
    await Promise.race([Promise.all(this.takers), sleep(STOP_WAIT_MS)]);
    await this.queue.close().catch(() => {});
  }

  private async take(): Promise<void> {
    while (!this.closing) {
      const token = `${this.taker}:${++this.tokens}`;
      try {
        const taken = await takeIntake(this.o.connection, this.queue, { token, lockMs: this.o.lockMs, name: 'swarmq-intake', max: this.o.batch ?? 50 });
        if (taken.jobs.length === 0) await this.wake(taken);
        else await this.route(taken.jobs, token);
      } catch (err) {
        if (this.closing) break;
        // Redis away or a bug: what was taken stays locked until its lock lapses, then the stalled check returns it.
        this.o.logger.warn({ err: (err as Error).message }, 'intake batch failed; trying again');
        await sleep(RETRY_TRANSIENT_MS);
      }
    }
  }

  /** Waits for new intake jobs (BullMQ's marker, as its Workers wait), one blocking wait shared by every taker. */
  private wake(t: TakenIntake): Promise<void> {
    this.waking ??= this.block(t).finally(() => (this.waking = undefined));
    return this.waking;
  }

  private async block(t: TakenIntake): Promise<void> {
    const now = Date.now();
    if (t.limitUntil > now) return await sleep(Math.min(t.limitUntil - now, IDLE_WAIT_MS));
    const ms = t.delayUntil > now ? Math.min(t.delayUntil - now, IDLE_WAIT_MS) : IDLE_WAIT_MS;
    await this.blocker.bzpopmin(String(this.queue.keys.marker), Math.max(ms, 1) / 1000).catch(async () => {
      if (!this.closing) await sleep(100);
    });
  }

  /** Routes a batch of taken jobs: each ends completed with its task's `{ id, node }`, failed with the reason, or deferred. */
  private async route(jobs: Job[], token: string): Promise<void> {
    const { router } = this.o;
    const writtenAt = Date.now();
    const batch: Routing[] = await Promise.all(jobs.map((job) => this.plan(job)));
    if (this.o.landInOneStep) await this.land(batch, token);
    const planned = batch.filter((r) => r.id !== undefined && r.outcome === undefined);
    // Each job's task id, recorded before its task is added: a job taken again (its taker died) gets the same id, and
    // BullMQ's add of an existing id is a no-op, so one intake job is one task.
    const keys = swarmKeys(this.o.prefix);
    const recorded = planned.length
      ? await this.o.connection
          .pipeline(planned.map((r) => ['set', keys.intakeTask(r.job.id ?? ''), r.id!, 'EX', String(this.o.keepSeconds), 'NX', 'GET']))
          .exec()
      : [];
    await Promise.all(
      planned.map(async (r, i) => {
        const [err, previous] = recorded?.[i] ?? [new Error('no reply')];
        try {
          if (err) throw err;
          if (previous) r.id = String(previous);
          // A spent key's task is refused before it is added; a job taken again whose task is already in goes on.
          else if (r.task!.key !== undefined && (await router.budgets.has(r.task!.key))) await router.budgets.check(r.task!.key);
          r.node = (await router.enqueue(r.task!, r.id!)).node;
        } catch (e) {
          this.settle(r, e);
        }
      }),
    );
    const routed = planned.filter((r) => r.outcome === undefined);
    if (routed.length > 0) {
      // The jobs are finished (their producers' acknowledgement) only once their tasks and ids are on a replica.
      const what = `the tasks of ${routed.length} intake job${routed.length === 1 ? '' : 's'}`;
      try {
        await Promise.all([
          router.confirm([...new Set(routed.map((r) => router.queueKey(nodeQueueName(r.node!))))], what, undefined, writtenAt),
          router.confirm(routed.map((r) => keys.intakeTask(r.job.id ?? '')), what, this.o.connection, writtenAt),
        ]);
      } catch (err) {
        for (const r of routed) this.settle(r, err);
      }
    }
    await this.finish(batch, token);
  }

  /**
   * Lands the batch's jobs whose task has no key (a keyed add places the task in its key's fair order, a step of its
   * own) in one command: each task added and its job completed together. A job an earlier taker routed step by step
   * (its task id recorded) is left to the steps, which reuse that id.
   */
  private async land(batch: Routing[], token: string): Promise<void> {
    const lands: { r: Routing; landing: IntakeLanding }[] = [];
    for (const r of batch) {
      if (r.id === undefined || r.outcome !== undefined || r.task!.key !== undefined) continue;
      try {
        const add = this.o.router.addOf(r.task!, r.id, LANDING_ADDS);
        if (add) lands.push({ r, landing: { job: r.job, completed: { id: r.id, node: nodeOfTaskId(r.id) }, add, taskId: r.id } });
      } catch (err) {
        this.settle(r, err); // BullMQ refused the job's options
      }
    }
    if (lands.length === 0) return;
    const records = { prefix: swarmKeys(this.o.prefix).intakeTask(''), keepSeconds: this.o.keepSeconds };
    const codes = await landIntake(this.o.connection, this.queue, token, records, lands.map((l) => l.landing));
    codes.forEach((code, i) => {
      const r = lands[i]!.r;
      if (code === 'landed' || code === 'not-ours') r.outcome = 'landed';
      else if (code !== 'recorded') this.settle(r, new Error(`adding the task of intake job ${r.job.id} failed with BullMQ code ${code}`));
    });
  }

  /** Checks and routes one job; on an error, settles what it means. */
  private async plan(job: Job): Promise<Routing> {
    const r: Routing = { job };
    // BullMQ's stalled check flags a job that stalled too often: it fails, as a Worker fails it.
    if (job.deferredFailure) return { job, outcome: { failed: job.deferredFailure } };
    try {
      r.task = this.o.router.validate(intakeTaskInput(job));
      checkBytes(job.data, this.o.maxBytes);
      r.id = newTaskId(await this.o.router.route(r.task));
    } catch (err) {
      this.settle(r, err);
    }
    return r;
  }

  private settle(r: Routing, err: unknown): void {
    const verdict = intakeVerdict(err, r.job.attemptsStarted);
    // Visible in Bull Board as the failure reason; the producer's attempts are the task's, not this routing's.
    if (!verdict.defer) r.outcome = { failed: verdict.reason };
    else {
      r.outcome = 'defer';
      this.o.logger.warn({ jobId: r.job.id, err: (err as Error).message, tries: r.job.attemptsStarted }, 'intake job deferred after a transient error');
    }
  }

  private async finish(batch: readonly Routing[], token: string): Promise<void> {
    const finishes: IntakeFinish[] = [];
    for (const r of batch) {
      if (r.outcome === 'defer' || r.outcome === 'landed') continue;
      finishes.push({ job: r.job, token, outcome: r.outcome ?? { completed: { id: r.id, node: r.node } } });
    }
    const codes = await finishIntake(this.o.connection, this.queue, finishes);
    codes.forEach((code, i) => {
      // Its lock lapsed and the stalled check gave it to another taker, which finishes it (to the same task id).
      if (code < 0) this.o.logger.debug({ jobId: finishes[i]!.job.id, code }, 'intake job not ours any more at its finish');
    });
    // Tried again later without spending one of the producer's attempts.
    for (const r of batch) if (r.outcome === 'defer') await r.job.moveToDelayed(Date.now() + RETRY_TRANSIENT_MS, token).catch(() => {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
