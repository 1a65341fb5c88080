// The balancer loop: in each slot group whose partition this coordinator holds
// (src/coordinator/partitions.ts), read node loads, plan steals (often) and
// rebalancing (every rebalanceInterval), and carry out each move atomically with
// the partition's fencing token; while it holds the parked partition, route
// parked tasks to agents that joined. Moves stay within a slot group (one
// script over both queues), so groups are balanced independently, each by its
// owner, and a coordinator that lost a group is refused there by its fence.
import { EventEmitter } from 'node:events';
import type { Queue } from 'bullmq';
import { PARKED_NODE, slotGroupOf } from '../../queues/keys.ts';
import { moveWaitingJobs } from '../../queues/moveJobs.ts';
import { LeaderLoop } from '../coordinator/leaderLoop.ts';
import type { TrackedLoads, TrackedLoadsDuty } from '../coordinator/loadsTracker.ts';
import type { Partitions } from '../coordinator/partitions.ts';
import type { NodeView } from '../routing/loads.ts';
import { liveCapacity } from '../routing/capacity.ts';
import { publishEvent } from '../swarm/events.ts';
import { planRebalance, planSteals, type BalanceNode, type Move } from './plan.ts';
import { unparkTasks } from './unpark.ts';
import { traced } from '../tracing/spans.ts';


export interface RebalancedEvent {
  at: number;
  /** The fencing token of the slot group's partition the moves carried (one event per group). */
  token: number;
  moves: (Move & { moved: number })[];
}

export interface Balancer {
  on(event: 'load:rebalanced', listener: (e: RebalancedEvent) => void): this;
}

export class Balancer extends EventEmitter {
  private readonly loop: LeaderLoop;
  private lastRebalance = 0;

  constructor(
    private readonly o: Omit<TrackedLoadsDuty, 'lease'> & {
      /** Which slot groups (and whether the parked queue) this coordinator balances, with their tokens. */
      partitions: Pick<Partitions, 'groups'>;
      groupOf: (seq: number) => string;
      queueFor: (nodeId: string) => Queue;
      /** The tracked loads as nodes with their agents. */
      views: (t: TrackedLoads) => readonly NodeView[];
    },
  ) {
    super();
    this.loop = new LeaderLoop({
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

  /** One round: returns the moves carried out (empty when this coordinator holds no group). */
  async tick(now = Date.now()): Promise<RebalancedEvent['moves']> {
    const held = this.o.partitions.groups(now);
    if (!held.size) return [];
    const tracked = await this.o.loads(now);
    const { roster } = tracked;
    const nodes = this.o.views(tracked);
    const parkedToken = held.get(PARKED_NODE);
    if (parkedToken !== undefined) {
      // Parked tasks go to any node that can run them: the claim is fenced by the parked group's token.
      const unparked = await unparkTasks({ redis: this.o.redis, prefix: this.o.config.prefix, token: parkedToken, queueFor: this.o.queueFor }, nodes);
      if (unparked.length) this.o.logger.info({ tasks: unparked.length }, 'routed parked tasks to agents that can run them');
    }
    const balanceNodes: BalanceNode[] = nodes.flatMap((n) => {
      const rec = roster.nodes.get(n.id);
      const slot = slotGroupOf(n.id);
      if (!rec || !held.has(slot)) return [];
      const capacity = liveCapacity(n);
      return [{ id: n.id, slot, group: this.o.groupOf(rec.seq), profile: rec.profile, capacity, waiting: n.waiting, active: n.active }];
    });
    const { coordinator } = this.o.config;
    const opts = { stealRatio: coordinator.workStealing.thresholdRatio, tolerance: coordinator.loadBalancing.rebalanceTolerance };
    let plan: Move[] = coordinator.workStealing.enabled ? planSteals(balanceNodes, opts) : [];
    if (!plan.length && now - this.lastRebalance >= coordinator.loadBalancing.rebalanceInterval) {
      this.lastRebalance = now;
      plan = planRebalance(balanceNodes, opts);
    }
    const done: RebalancedEvent['moves'] = [];
    const bySlot = new Map<string, RebalancedEvent['moves']>();
    for (const m of plan) {
      const slot = slotGroupOf(m.from);
      const fence = { token: String(held.get(slot)) };
      const moved = await traced('swarmq.move', { 'swarmq.move.from': m.from, 'swarmq.move.to': m.to, 'swarmq.move.max': m.count, 'swarmq.move.reason': m.reason }, async (span) => {
        const n = await moveWaitingJobs(this.o.redis, { prefix: this.o.config.prefix, from: m.from, to: m.to, max: m.count, fence });
        span.setAttribute('swarmq.move.moved', n);
        return n;
      });
      if (moved > 0) {
        done.push({ ...m, moved });
        bySlot.set(slot, [...(bySlot.get(slot) ?? []), { ...m, moved }]);
      }
    }
    for (const [slot, moves] of bySlot) {
      const event: RebalancedEvent = { at: now, token: held.get(slot)!, moves };
      this.emit('load:rebalanced', event);
      await publishEvent(this.o.redis, this.o.config.prefix, 'load:rebalanced', event);
      this.o.logger.info({ group: slot, moves }, 'load:rebalanced');
    }
    return done;
  }
}
