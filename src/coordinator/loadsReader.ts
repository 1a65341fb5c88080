// Reads the roster and node loads from Redis into the loads a router decides on
// (src/routing/loads.ts). The roster (agents, nodes) is re-read only when its
// version moves; loads every call.
import type { Redis } from 'ioredis';
import { bullKey, swarmKeys } from '../../queues/keys.ts';
import { agentRecordSchema, nodeRecordSchema, parseHash, type AgentRecord, type NodeRecord } from '../swarm/records.ts';
import type { NodeView } from '../routing/loads.ts';

export interface Roster {
  agents: Map<string, AgentRecord>;
  nodes: Map<string, NodeRecord>;
}

export class LoadsReader {
  private readonly keys;
  private version: string | null = null;
  private roster: Roster = { agents: new Map(), nodes: new Map() };

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly failedAfterMs: number,
    private readonly onBadRecord: (what: string, key: string, err: string) => void = () => {},
  ) {
    this.keys = swarmKeys(prefix);
  }

  async readRoster(force = false): Promise<{ roster: Roster; hostBeats: Map<string, number> }> {
    const [[, version], [, beats]] = (await this.redis
      .pipeline()
      .get(this.keys.rosterVersion)
      .zrange(this.keys.hosts, '0', '-1', 'WITHSCORES')
      .exec()) as [[unknown, string | null], [unknown, string[]]];
    if (force || version !== this.version) {
      const [[, agents], [, nodes]] = (await this.redis.pipeline().hgetall(this.keys.agents).hgetall(this.keys.nodes).exec()) as [
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
    return { roster: this.roster, hostBeats };
  }

  async read(now: number, force = false): Promise<{ nodes: NodeView[]; roster: Roster; hostBeats: Map<string, number> }> {
    const { roster, hostBeats } = await this.readRoster(force);
    const nodeIds = [...roster.nodes.keys()];
    const p = this.redis.pipeline();
    for (const id of nodeIds) {
      const queue = roster.nodes.get(id)!.queue;
      p.llen(bullKey(this.prefix, queue, 'wait'));
      p.zcard(bullKey(this.prefix, queue, 'prioritized'));
      p.llen(bullKey(this.prefix, queue, 'active'));
    }
    const counts = nodeIds.length ? ((await p.exec()) ?? []) : [];
    const byNode = new Map<string, NodeView['agents'][number][]>();
    for (const a of roster.agents.values()) {
      if (a.pooled) continue; // reserved seat, no work yet
      const beat = hostBeats.get(a.hostId);
      const live = beat !== undefined && now - beat < this.failedAfterMs;
      const list = byNode.get(a.node) ?? [];
      list.push({ id: a.id, type: a.type, capabilities: a.capabilities, taskTypes: a.taskTypes, capacity: a.capacity, live });
      byNode.set(a.node, list);
    }
    const nodes = nodeIds.map((id, i) => {
      const n = (k: number) => Number(counts[i * 3 + k]?.[1] ?? 0);
      return { id, agents: byNode.get(id) ?? [], waiting: n(0) + n(1), active: n(2) };
    });
    return { nodes, roster, hostBeats };
  }
}
