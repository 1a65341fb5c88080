// The API's read side at scale: the roster index is built once per roster
// version (src/api/rosterIndex.ts), and node loads read by requests that come
// together (a dashboard asks for the summary and the hierarchy at once) are one
// read, reused for LOADS_FRESH_MS. So serving a summary of 10,000 agents while
// nobody joins or leaves reads the version, the heartbeats and the queue
// lengths, never the 10,000 agent records.
import type { HealthState } from '../health/classify.ts';
import type { EndpointStateOf } from '../health/endpointHealth.ts';
import type { NodeView } from '../routing/loads.ts';
import type { AgentRecord, NodeRecord } from '../swarm/records.ts';
import type { Liveness } from './agentPage.ts';
import { indexRoster, type RosterIndex } from './rosterIndex.ts';
import type { SwarmSource } from './swarmSource.ts';

/** How long a read of node loads answers later requests: queue counts this old are still news to a person. */
export const LOADS_FRESH_MS = 250;

export interface CacheOptions {
  failedAfterMs: number;
  /** Each host's health state as the leading coordinator classifies it, and its HTTP agents' endpoints not answering. */
  health: () => readonly { host: string; state: HealthState; endpoints?: readonly EndpointStateOf[] }[];
  /** Default Date.now. */
  clock?: () => number;
}

export interface RosterNow {
  index: RosterIndex;
  liveness: Liveness;
}

export interface LoadsNow extends RosterNow {
  nodes: NodeView[];
  /** The roster's node records (queue name, members, createdAt). */
  nodeRecords: ReadonlyMap<string, NodeRecord>;
}

export class SwarmCache {
  private index: RosterIndex | undefined;
  private loadsRead: { at: number; value: Promise<LoadsNow> } | undefined;
  private readonly clock: () => number;

  constructor(
    private readonly source: SwarmSource,
    private readonly o: CacheOptions,
  ) {
    this.clock = o.clock ?? Date.now;
  }

  /** The roster index and the liveness of its hosts now. */
  async roster(): Promise<RosterNow> {
    const { version, roster, hostBeats } = await this.source.roster();
    return { index: this.indexFor(version, roster.agents.values()), liveness: this.liveness(hostBeats) };
  }

  /** The same, with node loads. */
  loads(): Promise<LoadsNow> {
    const now = this.clock();
    if (this.loadsRead && now - this.loadsRead.at < LOADS_FRESH_MS) return this.loadsRead.value;
    const value = this.source.loads(now).then(({ version, roster, hostBeats, nodes }) => ({
      index: this.indexFor(version, roster.agents.values()),
      liveness: this.liveness(hostBeats, now),
      nodes,
      nodeRecords: roster.nodes,
    }));
    const read = { at: now, value };
    this.loadsRead = read;
    // A failed read is not reused: the next request tries Redis again.
    value.catch(() => {
      if (this.loadsRead === read) this.loadsRead = undefined;
    });
    return value;
  }

  private indexFor(version: string, agents: Iterable<AgentRecord>): RosterIndex {
    if (this.index?.version !== version) this.index = indexRoster(version, agents);
    return this.index;
  }

  private liveness(hostBeats: Map<string, number>, now = this.clock()): Liveness {
    const hosts = this.o.health();
    const endpoints = new Map<string, readonly EndpointStateOf[]>();
    for (const h of hosts) if (h.endpoints?.length) endpoints.set(h.host, h.endpoints);
    return { now, failedAfterMs: this.o.failedAfterMs, hostBeats, health: new Map(hosts.map((h) => [h.host, h.state])), endpoints };
  }
}
