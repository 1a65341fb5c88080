// The processor of the consensus queue: one job is one proposal. It tells the
// hosts of the participants that the round has begun (they read its spec from
// this very job), waits until enough agents have recorded one decision (or the
// proposal's time is up), tells them it is done, and returns the outcome,
// which BullMQ stores with the job. A driver that dies mid-round leaves the
// job to stall; another driver takes it over, and hosts that still run the
// round just learn the new driver.
import { DelayedError, UnrecoverableError, WaitingChildrenError, type Job } from 'bullmq';
import type { RedisClient } from '../../../queues/redisTarget.ts';
import { consensusKeys } from './keys.ts';
import { decidedValues, outcomeOf, parseDecisions } from './outcome.ts';
import { roundSpecSchema, type ProposalResult, type RoundSpec } from './proposal.ts';
import { traced } from '../../tracing/spans.ts';
import { sendNotice } from './outbox.ts';
import { RoundTrace, tracing } from './trace.ts';
import type { InboxItem } from './wire.ts';
import type { Logger } from '../../log.ts';
import { publishEvent } from '../../swarm/events.ts';
import { judgeReplicated, REPLICATED_JOB } from './judgeReplicated.ts';
import { slotPipeline } from '../../../queues/slotPipeline.ts';
import type { ProcessTrust } from '../../trust/processTrust.ts';
import { decisionCheck } from './roundProof.ts';
import { CONSENSUS_QUEUE } from '../../../queues/keys.ts';
import type { DurabilityPolicy } from '../../../queues/durability.ts';
import { approvalPickup, awaitingRecord, holdForApproval, publishTimedOut, type ApprovalQueue } from '../../tasks/approvalHold.ts';
import { replicaPollMs, replicatedDataSchema, type ReplicatedData } from './judgeReplicated.ts';
import { addRevisionReplicas, revisionReplicas } from './rerunReplicas.ts';

export interface VoteProcessorDeps {
  redis: RedisClient;
  prefix: string;
  /** This driver's inbox name: hosts send decision notices there. */
  driverId: string;
  /** Resolves when a notice for the round arrives, or after `ms`. */
  nudged(round: string, ms: number): Promise<void>;
  logger: Logger;
  /** With a trust anchor: an outcome counts only host-signed decisions over a spec an enrolled proposer signed. */
  trust?: ProcessTrust;
  /** With replicated durability, an agreed output parked for approval counts once a replica has it. */
  durability?: DurabilityPolicy;
}

/** How long a round waits for its first proposer before the value is proposed at the next participant too. */
export function retryAfterMs(tickMs: number): number {
  return Math.max(300, 30 * tickMs);
}

export function voteProcessor(d: VoteProcessorDeps): (job: Job, token?: string) => Promise<unknown> {
  const keys = consensusKeys(d.prefix);
  const sendAll = (inboxes: Iterable<string>, item: InboxItem) => sendNotice(d.redis, inboxes, item);
  const read = async (id: string) => {
    const [[, decided], [, rejected]] = (await slotPipeline(d.redis).hgetall(keys.decided(id)).hgetall(keys.rejected(id)).exec()) as [
      [Error | null, Record<string, string>],
      [Error | null, Record<string, string>],
    ];
    return { decisions: parseDecisions(decided), rejected };
  };

  return async (job, token) => {
    // A replicated task whose replicas have all finished: its agents vote on their outputs in a round run here.
    if (job.name === REPLICATED_JOB) {
      const waitForReplicas = async (ms: number): Promise<never> => {
        await job.moveToDelayed(Date.now() + ms, token);
        throw new DelayedError();
      };
      const judge = () => judgeReplicated(job, { redis: d.redis, prefix: d.prefix, runRound, waitForReplicas, ...(d.trust ? { trust: d.trust } : {}) });
      const terms = replicatedDataSchema.safeParse(job.data).data?.approval;
      return terms ? await judgeForApproval(job, token ?? '', terms, judge) : await judge();
    }
    const spec = roundSpecSchema.parse(job.data);
    const attributes = { 'swarmq.proposal.id': spec.id, 'swarmq.consensus.protocol': spec.protocol, 'swarmq.consensus.participants': spec.participants.length };
    return await traced('swarmq.consensus', attributes, async (span) => {
      const outcome = await runRound(spec);
      span.setAttributes({ 'swarmq.consensus.decided': outcome.decided, 'swarmq.consensus.votes': outcome.votes, 'swarmq.consensus.rounds': outcome.rounds });
      return outcome;
    });
  };

  /**
   * A replicated task that needs approval (src/tasks/approval.ts): the agreed
   * output waits for a decision, here in the consensus queue as a plain task's
   * waits in its node's. Back from waiting, the task completes with it, fails
   * (rejected, timed out) or waits again (promoted early), without a new vote.
   */
  async function judgeForApproval(job: Job, token: string, terms: { timeoutMs: number }, judge: () => Promise<unknown>): Promise<unknown> {
    const id = job.id ?? '';
    const q: ApprovalQueue = { redis: d.redis, prefix: d.prefix, queue: CONSENSUS_QUEUE, node: CONSENSUS_QUEUE, ...(d.durability ? { durability: d.durability } : {}) };
    const step = await approvalPickup(q, id);
    switch (step.kind) {
      case 'complete':
        return step.output;
      case 'fail':
        if (step.timedOut) await publishTimedOut(q, { id, type: replicatedDataSchema.parse(job.data).replicated.type }, step.round).catch((err: Error) => d.logger.warn({ err: err.message }, 'could not publish approval:decided'));
        throw new UnrecoverableError(step.reason);
      case 'hold':
        await holdForApproval(q, id, token, step.awaiting);
        throw new DelayedError();
      case 'run': {
        // Rejected with retry: a new revision's replicas run first (rerunReplicas.ts), then their own vote.
        const data = replicatedDataSchema.parse(job.data);
        if (step.round > (data.replicated.revision ?? 1)) await rerun(job, token, data, step.round, step.feedback ?? '');
        const output = await judge();
        const res = await holdForApproval(q, id, token, awaitingRecord(terms, output, null, step.round), (err) => d.logger.warn({ task: id, err: err.message }, 'an agreed output awaits approval, not yet confirmed by a replica'));
        if (res !== 'awaiting') d.logger.warn({ task: id, res }, 'the agreed output could not wait for approval: the task is no longer this driver\'s (cancelled, or its lock lost)');
        throw new DelayedError();
      }
    }
  }

  /**
   * Adds revision `revision`'s replicas and names them in the job's data (the
   * vote of the previous revision dropped from it), then waits for them: as the
   * flow's new children, or delayed on a Cluster. Returns only if they have all
   * finished already (a driver that took the task over after they ran): then
   * the caller judges them at once.
   */
  async function rerun(job: Job, token: string, data: ReplicatedData, revision: number, feedback: string): Promise<void> {
    const id = job.id ?? '';
    const replicas = revisionReplicas(id, data, revision, feedback);
    if (typeof replicas === 'string') throw new UnrecoverableError(replicas);
    const flowless = data.replicated.flowless === true;
    await addRevisionReplicas(d.redis, d.prefix, job, replicas, flowless);
    const { round: _round, outcome: _outcome, ...rest } = data;
    await job.updateData({ ...rest, replicated: { ...data.replicated, replicaTasks: replicas.map((r) => r.id), revision, feedback } } satisfies ReplicatedData);
    d.logger.info({ task: id, revision, replicas: replicas.map((r) => r.id) }, 'a replicated task rejected with retry runs again');
    if (flowless) {
      await job.moveToDelayed(Date.now() + replicaPollMs(0), token);
      throw new DelayedError();
    }
    if (await job.moveToWaitingChildren(token)) throw new WaitingChildrenError();
  }

  /** `announce`: fields of the consensus:reached event besides the outcome's (a replicated task's id, output and dissenters). */
  async function runRound(spec: RoundSpec, announce?: (o: ProposalResult) => Record<string, unknown>): Promise<ProposalResult> {
    const trace = tracing ? new RoundTrace(spec.id, 'driver') : undefined;
    if (trace) trace.createdAt = spec.createdAt;
    trace?.mark('picked');
    const hostOf = new Map(spec.participants.map((p) => [p.id, keys.inbox(p.host)]));
    const inboxes = new Set(hostOf.values());
    // A proposal taken over from a dead driver may be decided already: read while starting.
    let [, state] = await Promise.all([sendAll(inboxes, { k: 'start', round: spec.id, driver: d.driverId }), read(spec.id)]);
    const check = d.trust && decisionCheck(spec, d.trust.verifier);
    if (check?.problem) d.logger.warn({ round: spec.id, why: check.problem }, 'a proposal whose spec is not certified: no decision of it can count');
    // An uncertified spec can never decide: the round ends at once rather than at its time limit.
    const deadline = check?.problem ? 0 : spec.createdAt + spec.timeoutMs;
    const retryEvery = retryAfterMs(spec.tickMs);
    let nextRetry = Date.now() + retryEvery;
    let proposer = 1;
    let outcome = outcomeOf(spec, state.decisions, state.rejected, check);
    while (!outcome.decided && Date.now() < deadline) {
      // Notices make this prompt; the bound only matters when one is lost.
      await d.nudged(spec.id, Math.max(1, Math.min(deadline, nextRetry, Date.now() + 250) - Date.now()));
      if (Date.now() >= nextRetry) {
        // Start again everywhere (a no-op for hosts that run the round; a host that restarted loads it and rejoins),
        // and propose at the next participant too, in case the first proposer is gone.
        await sendAll(inboxes, { k: 'start', round: spec.id, driver: d.driverId });
        const to = proposer < spec.participants.length ? spec.participants[proposer++]! : undefined;
        if (to) await sendAll([hostOf.get(to.id)!], { k: 'propose', round: spec.id, to: to.id });
        nextRetry = Date.now() + retryEvery;
      }
      state = await read(spec.id);
      trace?.add('reads', 1);
      outcome = outcomeOf(spec, state.decisions, state.rejected, check);
    }
    trace?.mark('outcome');
    const values = decidedValues(state.decisions);
    if (values.length > 1) d.logger.error({ round: spec.id, protocol: spec.protocol, values }, 'SAFETY VIOLATION: participants decided different values');
    const { rejected: _r, ...event } = outcome;
    await Promise.all([
      sendAll(inboxes, { k: 'done', round: spec.id }),
      outcome.decided ? publishEvent(d.redis, d.prefix, 'consensus:reached', { ...event, ...announce?.(outcome) }).catch((err: Error) => d.logger.warn({ err: err.message }, 'could not publish consensus:reached')) : undefined,
    ]);
    trace?.mark('done');
    trace?.write({ protocol: spec.protocol });
    return outcome;
  }
}
