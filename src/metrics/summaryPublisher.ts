// While this coordinator leads: every metricsIntervalMs a metrics:updated
// summary (skipped while nothing changes, but at least every KEEPALIVE_MS, so
// a quiet swarm does not push alerts out of the capped stream), and
// agent:joined / agent:left from the roster's changes.
import { LeaderLoop } from '../coordinator/leaderLoop.ts';
import type { SwarmEventInput } from '../swarm/eventSchemas.ts';
import { publishEvent } from '../swarm/events.ts';
import type { TrackedLoadsDuty } from '../coordinator/loadsTracker.ts';
import { FinishedTail } from './finishedTail.ts';
import { SwarmStateReader } from './swarmState.ts';
import { rosterChanges, sameFigures, summarize, workingAgents, type AgentRef } from './summaryEvents.ts';

export const KEEPALIVE_MS = 30_000;
/** Stream entries one summary may read to count finishes; past it the rate is estimated, so a busy swarm costs the leader no more. */
const TAIL_BUDGET = 1_000;

export class SummaryPublisher {
  private readonly reader: SwarmStateReader;
  private readonly loop: LeaderLoop;
  private tail: FinishedTail | undefined;
  private agents: Map<string, AgentRef> | undefined;
  /** The roster `agents` was taken from: a reader hands back the same object until the roster's version moves. */
  private agentsOf: unknown;
  private last: { at: number; summary: SwarmEventInput<'metrics:updated'> } | undefined;

  constructor(
    private readonly o: TrackedLoadsDuty,
  ) {
    this.reader = new SwarmStateReader(o.redis, o.config.prefix);
    // The loads publisher renews the swarm lease; this loop only reads it.
    this.loop = new LeaderLoop({
      lease: o.lease,
      renewsLease: false,
      intervalMs: o.config.coordinator.metricsIntervalMs,
      onError: (err) => o.logger.debug({ err: err.message }, 'swarm summary failed; next interval retries'),
    });
  }

  start(): void {
    this.loop.start(() => this.tick());
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private async tick(): Promise<void> {
    if (!(await this.loop.leadership())) {
      // Not leading: start afresh if leadership comes back, so nothing is counted twice or reported as a change.
      this.tail = undefined;
      this.agents = undefined;
      return;
    }
    const now = Date.now();
    const first = !this.tail;
    this.tail ??= new FinishedTail(this.o.redis, this.o.config.prefix, now);
    const state = await this.reader.readTracked(await this.o.loads(now));
    const rates = await this.tail.rates(state.nodes.map((n) => n.queue), TAIL_BUDGET, now);
    const summary = summarize(state, this.o.config.agents, first ? { completed: 0, failed: 0 } : rates);
    const { prefix } = this.o.config;

    const agents = state.roster === this.agentsOf && this.agents ? this.agents : workingAgents(state.roster.agents);
    this.agentsOf = state.roster;
    if (this.agents && agents !== this.agents) {
      const { joined, left } = rosterChanges(this.agents, agents);
      if (joined.length) await publishEvent(this.o.redis, prefix, 'agent:joined', { at: now, agents: joined });
      if (left.length) await publishEvent(this.o.redis, prefix, 'agent:left', { at: now, agents: left });
    }
    this.agents = agents;

    if (this.last && now - this.last.at < KEEPALIVE_MS && sameFigures(this.last.summary, summary)) return;
    await publishEvent(this.o.redis, prefix, 'metrics:updated', summary);
    this.last = { at: now, summary };
  }
}
