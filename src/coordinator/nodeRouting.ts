// Routing a task to a node on a local snapshot of the roster (no round trip per
// task): the snapshot is re-read on a timer while tasks are routed, not while
// none are (snapshotDemand.ts decides), and at once when a task finds no node,
// since agents may just have joined. The loads come from what the leading
// coordinator publishes (one command a round, whatever the size of the swarm);
// with nobody publishing, the router counts every node's queue itself.
import { randomInt } from 'node:crypto';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { PARKED_NODE } from '../../queues/keys.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { SwarmError } from '../errors.ts';
import type { NodeView, RouteDecision } from '../routing/loads.ts';
import type { TaskInput } from '../tasks/schema.ts';
import { traced } from '../tracing/spans.ts';
import { LoadsReader, nodeViews } from './loadsReader.ts';
import { sameHosts, type LoadsSnapshot } from './loadsSnapshot.ts';
import { liveForReader, PublishedLoads } from './publishedLoads.ts';
import { RoutingTable } from './routingTable.ts';
import { keepsRefreshing, snapshotUse, type SnapshotTimes } from './snapshotDemand.ts';

/** A task no node can take, as the error its submitter sees; `where` prefixes the field's path (`tasks.3.` in a batch). */
export function routeRefusal(decision: Extract<RouteDecision, { ok: false }>, where: string): SwarmError {
  const path = `${where}${decision.code === 'unknown_task_type' ? 'type' : 'affinity'}`;
  return new SwarmError(decision.code, decision.message, [{ path, message: decision.message }]);
}

/** Where a task goes after its last decision: its node, the parked queue, or the refusal. */
function settle(task: TaskInput, decision: RouteDecision, where: string): string {
  if (decision.ok) return decision.node;
  if (task.waitForAgent) return PARKED_NODE; // the leading coordinator routes it once a capable agent joins
  throw routeRefusal(decision, where);
}

export class NodeRouting {
  private readonly reader: LoadsReader;
  private readonly published: PublishedLoads;
  private readonly table: RoutingTable;
  private current: NodeView[] = [];
  /** Runs only while tasks are routed: an idle producer makes no reads for its snapshot. */
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private refreshing: Promise<void> | undefined;
  /**
   * When the last completed read started and when a task was last routed, on
   * the monotonic clock (a wall clock set back would make a snapshot look fresh).
   */
  private readAt: number | undefined;
  private routedAt: number | undefined;
  /** The last published loads this router took, and the roster version it built its nodes with. */
  private held: LoadsSnapshot | undefined;
  private rosterVersion: string | null | undefined;
  /** Heartbeats from this router's own last roster read: a host that joined since the leader's last round is live already. */
  private beats: ReadonlyMap<string, number> = new Map();

  constructor(
    redis: RedisClient,
    private readonly config: SwarmConfig,
    onBadRecord?: (what: string, key: string, err: string) => void,
  ) {
    this.reader = new LoadsReader(redis, config.prefix, config.agents.failedAfterMs, onBadRecord);
    this.published = new PublishedLoads(redis, config.prefix, onBadRecord);
    const { coordinator } = config;
    this.table = new RoutingTable(
      { fanout: coordinator.maxAgentsPerNode, depth: coordinator.hierarchyDepth },
      coordinator.routingSeed ?? randomInt(2 ** 31),
      { weights: coordinator.loadBalancing.weights },
    );
  }

  /** The nodes of the last snapshot. */
  get nodes(): readonly NodeView[] {
    return this.current;
  }

  /** Reads the roster now; then every snapshotIntervalMs while tasks are routed. */
  async start(): Promise<void> {
    await this.refresh(true);
  }

  /** The nodes to route on now, read again first if the snapshot is too old to use (see `demand`). */
  async fresh(): Promise<readonly NodeView[]> {
    await this.demand();
    return this.current;
  }

  private times(): SnapshotTimes {
    return { now: performance.now(), readAt: this.readAt, routedAt: this.routedAt, intervalMs: this.config.coordinator.snapshotIntervalMs };
  }

  /**
   * A route is about to use the snapshot: keeps the timer running, refreshes in
   * the background when a read is due, and returns a read to wait for when the
   * snapshot is too old to route on (after a quiet spell); undefined, the common
   * case, costs the submit no await.
   */
  private demand(): Promise<void> | undefined {
    const t = this.times();
    this.routedAt = t.now;
    this.arm();
    const use = snapshotUse(t);
    if (use === 'use') return undefined;
    // Redis away: route on what is held; the submit's own write reports 503.
    const read = this.refresh().catch(() => {});
    return use === 'wait' ? read : undefined;
  }

  /** Starts the timer if it is not running; it stops itself at the first tick nobody routed within the idle bound. */
  private arm(): void {
    if (this.timer || this.closed) return;
    const timer = setInterval(() => {
      if (!keepsRefreshing(this.times())) {
        clearInterval(timer);
        this.timer = undefined;
        return;
      }
      this.refresh().catch(() => {
        // Redis away: keep the last snapshot; submits will report 503 themselves.
      });
    }, this.config.coordinator.snapshotIntervalMs);
    timer.unref();
    this.timer = timer;
  }

  /** Re-read loads; concurrent callers share one read. `force` re-reads the roster too. */
  refresh(force = false): Promise<void> {
    const startedAt = performance.now();
    this.refreshing ??= this.readNodes(Date.now(), force)
      .then((nodes) => {
        this.readAt = startedAt;
        if (!nodes) return; // nothing moved: keep counting this router's own routings in
        this.current = nodes;
        this.table.load(nodes);
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /** The nodes now; undefined when nothing moved since the last read, or only loads did (the table has them already). */
  private async readNodes(now: number, force: boolean): Promise<NodeView[] | undefined> {
    const previous = this.held;
    const got = await this.published.fetch();
    this.held = got?.snapshot;
    if (!got) {
      // Nobody publishes (or what is there does not parse): count every node's queue here.
      this.rosterVersion = undefined;
      return (await this.reader.read(now, force)).nodes;
    }
    const held = got.snapshot;
    const rosterMoved = force || held.rosterVersion !== this.rosterVersion;
    if (!got.moved && !rosterMoved) return undefined;
    if (!rosterMoved && previous && sameHosts(previous.liveHosts, held.liveHosts)) {
      this.table.reload((id) => held.counts.get(id));
      return undefined;
    }
    let roster = this.reader.cached();
    if (rosterMoved) {
      const read = await this.reader.readRoster(force);
      roster = read.roster;
      this.beats = read.hostBeats;
      this.rosterVersion = read.version;
    }
    const live = liveForReader(held, this.beats, now, this.config.agents.failedAfterMs);
    return nodeViews(roster, (id) => held.counts.get(id), (a) => live(a.hostId));
  }

  /**
   * Picks a node with the task's strategy (or the swarm's), descending the
   * hierarchy; on a miss re-reads the roster once, since agents may just have joined.
   */
  async route(task: TaskInput, where = ''): Promise<string> {
    const strategy = task.strategy ?? this.config.coordinator.loadBalancing.type;
    return await traced('swarmq.route', { 'swarmq.task.type': task.type, 'swarmq.strategy': strategy }, async (span) => {
      const waiting = this.demand();
      if (waiting) await waiting;
      let decision = this.table.decide(task, strategy);
      if (!decision.ok) {
        await this.refresh(true);
        decision = this.table.decide(task, strategy);
      }
      const node = settle(task, decision, where);
      span.setAttribute('swarmq.node', node);
      return node;
    });
  }

  /**
   * Routes a batch as `route` does each task, but re-reads the roster at most
   * once for the whole batch: a miss re-reads it in case agents just joined, and
   * a batch of tasks that wait for an agent not there yet would otherwise re-read
   * the whole roster once per task.
   */
  async routeBatch(tasks: readonly TaskInput[]): Promise<string[]> {
    return await traced('swarmq.route', { 'swarmq.batch.size': tasks.length }, async () => {
      const waiting = this.demand();
      if (waiting) await waiting;
      const decide = (t: TaskInput) => this.table.decide(t, t.strategy ?? this.config.coordinator.loadBalancing.type);
      let decisions = tasks.map(decide);
      if (decisions.some((d) => !d.ok)) {
        await this.refresh(true);
        decisions = decisions.map((d, i) => (d.ok ? d : decide(tasks[i]!)));
      }
      return decisions.map((d, i) => settle(tasks[i]!, d, `tasks.${i}.`));
    });
  }

  /** Stops the timer and lets a read under way finish. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.refreshing?.catch(() => {});
  }
}
