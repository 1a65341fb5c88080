// The balancer loop: in each slot group whose partition this coordinator holds
// (src/coordinator/partitions.ts), read node loads, plan steals (often) and
// rebalancing (every rebalanceInterval), and carry out each move atomically with
// the partition's fencing token; while it holds the parked partition, route
// parked tasks to agents that joined. Moves within a slot group are one script
// over both queues, fenced by the group's partition token, so groups are
// balanced independently, each by its owner, and a coordinator that lost a
// group is refused there by its fence. A group loaded far above another
// (groupPlan.ts) gives to it in fenced steps claimed first (crossMoves.ts): the
// source group's owner moves out, and finishes any such move left half done in
// the groups it holds before it plans.
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
import { planAcrossGroups } from './groupPlan.ts';
import { finishPendingMoves, moveAcrossGroups } from './crossMoves.ts';
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
    const heldGroups = [...held.keys()].filter((g) => g !== PARKED_NODE);
    const cross = { redis: this.o.redis, prefix: this.o.config.prefix, logger: this.o.logger };
    // Claims a mover left between the steps of a cross-group move (it died, or lost the group): land them before anything is planned.
    await finishPendingMoves(cross, heldGroups);
    const everyNode: BalanceNode[] = nodes.flatMap((n) => {
      const rec = roster.nodes.get(n.id);
      if (!rec) return [];
      const capacity = liveCapacity(n);
      return [{ id: n.id, slot: slotGroupOf(n.id), group: this.o.groupOf(rec.seq), profile: rec.profile, capacity, waiting: n.waiting, active: n.active }];
    });
    const balanceNodes = everyNode.filter((n) => held.has(n.slot));
    const { coordinator } = this.o.config;
    const opts = { stealRatio: coordinator.workStealing.thresholdRatio, tolerance: coordinator.loadBalancing.rebalanceTolerance };
    let plan: Move[] = coordinator.workStealing.enabled ? planSteals(balanceNodes, opts) : [];
    if (!plan.length && now - this.lastRebalance >= coordinator.loadBalancing.rebalanceInterval) {
      this.lastRebalance = now;
      plan = planRebalance(balanceNodes, opts);
    }
    // Between groups, from the groups held only (the claim carries the source's fence); every group's load is read.
    if (coordinator.workStealing.enabled) plan = [...plan, ...planAcrossGroups(everyNode, opts, (slot) => held.has(slot) && slot !== PARKED_NODE)];
    const done: RebalancedEvent['moves'] = [];
    const bySlot = new Map<string, RebalancedEvent['moves']>();
    for (const m of plan) {
      const slot = slotGroupOf(m.from);
      const token = held.get(slot)!;
      const moved = await traced('swarmq.move', { 'swarmq.move.from': m.from, 'swarmq.move.to': m.to, 'swarmq.move.max': m.count, 'swarmq.move.reason': m.reason }, async (span) => {
        const n =
          m.reason === 'cross-group'
            ? await moveAcrossGroups(cross, { from: m.from, to: m.to, max: m.count, token })
            : await moveWaitingJobs(this.o.redis, { prefix: this.o.config.prefix, from: m.from, to: m.to, max: m.count, fence: { token: String(token) } });
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
