// Reads the roster and node loads from Redis into the loads a router decides on
// (src/routing/loads.ts). The roster (agents, nodes) is re-read only when its
// version moves. `read` counts every node's queue, a cost that grows with the
// swarm: routers use it only while no coordinator publishes the loads
// (loadsSnapshot.ts); the leader's tracker reads only the nodes that changed.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { bullKey, swarmKeys } from '../../queues/keys.ts';
import { agentRecordSchema, nodeRecordSchema, parseHash, type AgentRecord, type NodeRecord } from '../swarm/records.ts';
import type { NodeView } from '../routing/loads.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';

export interface Roster {
  agents: Map<string, AgentRecord>;
  nodes: Map<string, NodeRecord>;
}

/** The nodes of a roster with their agents (pooled seats left out) and loads; `counts` misses a node: none yet. */
export function nodeViews(
  roster: Roster,
  counts: (nodeId: string) => { waiting: number; active: number } | undefined,
  live: (agent: AgentRecord) => boolean,
): NodeView[] {
  const byNode = new Map<string, NodeView['agents'][number][]>();
  for (const a of roster.agents.values()) {
    if (a.pooled) continue; // reserved seat, no work yet
    const list = byNode.get(a.node) ?? [];
    list.push({ id: a.id, type: a.type, capabilities: a.capabilities, taskTypes: a.taskTypes, capacity: a.capacity, live: live(a) });
    byNode.set(a.node, list);
  }
  return [...roster.nodes.keys()].map((id) => {
    const c = counts(id);
    return { id, agents: byNode.get(id) ?? [], waiting: c?.waiting ?? 0, active: c?.active ?? 0 };
  });
}

/** Hosts whose last heartbeat is within failedAfterMs of now. */
export function liveHostsOf(hostBeats: ReadonlyMap<string, number>, now: number, failedAfterMs: number): Set<string> {
  const live = new Set<string>();
  for (const [host, beat] of hostBeats) if (now - beat < failedAfterMs) live.add(host);
  return live;
}

export class LoadsReader {
  private readonly keys;
  private version: string | null = null;
  private roster: Roster = { agents: new Map(), nodes: new Map() };

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly failedAfterMs: number,
    private readonly onBadRecord: (what: string, key: string, err: string) => void = () => {},
  ) {
    this.keys = swarmKeys(prefix);
  }

  /** The roster of the last read, without reading. */
  cached(): Roster {
    return this.roster;
  }

  async readRoster(force = false): Promise<{ roster: Roster; hostBeats: Map<string, number>; version: string | null }> {
    const [[, version], [, beats]] = (await slotPipeline(this.redis)
      .get(this.keys.rosterVersion)
      .zrange(this.keys.hosts, '0', '-1', 'WITHSCORES')
      .exec()) as [[unknown, string | null], [unknown, string[]]];
    if (force || version !== this.version) {
      const [[, agents], [, nodes]] = (await slotPipeline(this.redis).hgetall(this.keys.agents).hgetall(this.keys.nodes).exec()) as [
        [unknown, Record<string, string>],
        [unknown, Record<string, string>],
      ];
      this.roster = {
        agents: parseHash(agents, agentRecordSchema, (k, e) => this.onBadRecord('agent', k, e)),
        nodes: parseHash(nodes, nodeRecordSchema, (k, e) => this.onBadRecord('node', k, e)),
      };
      this.version = version;
    }
    const hostBeats = new Map<string, number>();
    for (let i = 0; i + 1 < beats.length; i += 2) hostBeats.set(beats[i]!, Number(beats[i + 1]));
    return { roster: this.roster, hostBeats, version: this.version };
  }

  async read(now: number, force = false): Promise<{ nodes: NodeView[]; roster: Roster; hostBeats: Map<string, number> }> {
    const { roster, hostBeats } = await this.readRoster(force);
    const nodeIds = [...roster.nodes.keys()];
    const p = slotPipeline(this.redis);
    for (const id of nodeIds) {
      const queue = roster.nodes.get(id)!.queue;
      p.llen(bullKey(this.prefix, queue, 'wait'));
      p.zcard(bullKey(this.prefix, queue, 'prioritized'));
      p.llen(bullKey(this.prefix, queue, 'active'));
    }
    const counts = nodeIds.length ? ((await p.exec()) ?? []) : [];
    const index = new Map(nodeIds.map((id, i) => [id, i]));
    const n = (i: number, k: number) => Number(counts[i * 3 + k]?.[1] ?? 0);
    const live = liveHostsOf(hostBeats, now, this.failedAfterMs);
    const nodes = nodeViews(
      roster,
      (id) => {
        const i = index.get(id)!;
        return { waiting: n(i, 0) + n(i, 1), active: n(i, 2) };
      },
      (a) => live.has(a.hostId),
    );
    return { nodes, roster, hostBeats };
  }
}
