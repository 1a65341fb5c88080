// The balancer loop: while this coordinator holds the lease, read node loads,
// plan steals (often) and rebalancing (every rebalanceInterval), and carry out
// each move atomically with the lease's fencing token.
import { EventEmitter } from 'node:events';
import type { Queue } from 'bullmq';
import { PARKED_NODE, slotGroupOf } from '../../queues/keys.ts';
import { moveWaitingJobs, raiseFence } from '../../queues/moveJobs.ts';
import { LeaderLoop } from '../coordinator/leaderLoop.ts';
import type { TrackedLoads, TrackedLoadsDuty } from '../coordinator/loadsTracker.ts';
import type { NodeView } from '../routing/loads.ts';
import { liveCapacity } from '../routing/capacity.ts';
import { publishEvent } from '../swarm/events.ts';
import { planRebalance, planSteals, type BalanceNode, type Move } from './plan.ts';
import { unparkTasks } from './unpark.ts';
import { traced } from '../tracing/spans.ts';


export interface RebalancedEvent {
  at: number;
  token: number;
  moves: (Move & { moved: number })[];
}

export interface Balancer {
  on(event: 'load:rebalanced', listener: (e: RebalancedEvent) => void): this;
}

export class Balancer extends EventEmitter {
  private readonly loop: LeaderLoop;
  private lastRebalance = 0;
  /** Slot groups whose fence already carries our token. */
  private fenced = { token: 0, groups: new Set<string>() };

  constructor(
    private readonly o: TrackedLoadsDuty & {
      groupOf: (seq: number) => string;
      queueFor: (nodeId: string) => Queue;
      /** The tracked loads as nodes with their agents. */
      views: (t: TrackedLoads) => readonly NodeView[];
    },
  ) {
    super();
    this.loop = new LeaderLoop({
      lease: o.lease,
      renewsLease: true,
      intervalMs: o.config.coordinator.workStealing.intervalMs,
      onError: (err) => o.logger.warn({ err: err.message }, 'balancer tick failed'),
    });
  }

  start(): void {
    this.loop.start(() => this.tick());
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One round: returns the moves carried out (empty when not leading). */
  async tick(now = Date.now()): Promise<RebalancedEvent['moves']> {
    const lead = await this.loop.leadership();
    if (!lead) return [];
    const { token, fence } = lead;
    const tracked = await this.o.loads(now);
    const { roster } = tracked;
    const nodes = this.o.views(tracked);
    await this.stampFences(token, [PARKED_NODE, ...nodes.map((n) => n.id)]);
    const unparked = await unparkTasks({ redis: this.o.redis, prefix: this.o.config.prefix, token, queueFor: this.o.queueFor }, nodes);
    if (unparked.length) this.o.logger.info({ tasks: unparked.length }, 'routed parked tasks to agents that can run them');
    const balanceNodes: BalanceNode[] = nodes.flatMap((n) => {
      const rec = roster.nodes.get(n.id);
      if (!rec) return [];
      const capacity = liveCapacity(n);
      return [{ id: n.id, slot: slotGroupOf(n.id), group: this.o.groupOf(rec.seq), profile: rec.profile, capacity, waiting: n.waiting, active: n.active }];
    });
    const { coordinator } = this.o.config;
    const opts = { stealRatio: coordinator.workStealing.thresholdRatio, tolerance: coordinator.loadBalancing.rebalanceTolerance };
    let plan: Move[] = coordinator.workStealing.enabled ? planSteals(balanceNodes, opts) : [];
    if (!plan.length && now - this.lastRebalance >= coordinator.loadBalancing.rebalanceInterval) {
      this.lastRebalance = now;
      plan = planRebalance(balanceNodes, opts);
    }
    const done: RebalancedEvent['moves'] = [];
    for (const m of plan) {
      const moved = await traced('swarmq.move', { 'swarmq.move.from': m.from, 'swarmq.move.to': m.to, 'swarmq.move.max': m.count, 'swarmq.move.reason': m.reason }, async (span) => {
        const n = await moveWaitingJobs(this.o.redis, { prefix: this.o.config.prefix, from: m.from, to: m.to, max: m.count, fence });
        span.setAttribute('swarmq.move.moved', n);
        return n;
      });
      if (moved > 0) done.push({ ...m, moved });
    }
    if (done.length) {
      const event: RebalancedEvent = { at: now, token, moves: done };
      this.emit('load:rebalanced', event);
      await publishEvent(this.o.redis, this.o.config.prefix, 'load:rebalanced', event);
      this.o.logger.info({ moves: done }, 'load:rebalanced');
    }
    return done;
  }

  /**
   * A new leader raises every slot group's fence to its token before it moves
   * anything, so a leader it replaced (paused, partitioned) is refused in each
   * group, not only in those the new one happens to move work in.
   */
  private async stampFences(token: number, nodeIds: readonly string[]): Promise<void> {
    if (this.fenced.token !== token) this.fenced = { token, groups: new Set() };
    for (const id of nodeIds) {
      const group = slotGroupOf(id);
      if (this.fenced.groups.has(group)) continue;
      const now = await raiseFence(this.o.redis, this.o.config.prefix, id, token);
      if (now !== token) throw new Error(`slot group ${group} is fenced by a newer leader (token ${now} > ${token})`);
      this.fenced.groups.add(group);
    }
  }
}
