// Agent hosts as real child processes (`swarmq agents`) for consensus tests and
// the consensus benchmark, plus a Consensus that drives proposals in this process.
import { Redis } from 'ioredis';
import { connectTo } from './redis.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { swarmKeys } from '../../queues/keys.ts';
import type { CliChild, CliFleet } from './cli.ts';
import type { ProcessTrust } from '../../src/trust/processTrust.ts';

export interface ConsensusFleet {
  prefix: string;
  /** A command connection to the swarm's Redis (closed by close()). */
  redis: Redis;
  /** How recent a host's heartbeat must be for its agents to take part (the swarm's failedAfterMs). */
  liveWithinMs: number;
  hosts: { id: string; child: CliChild; agents: string[] }[];
  consensus: Consensus;
  /** Every participant id, host by host in order (a0 of h0, a1 of h0, …). */
  agents: string[];
  /** Starts a host again under the same host id (after it was killed); resolves once its agents are back with new keys. */
  restart(id: string): Promise<void>;
  close(): Promise<void>;
}

export interface ConsensusFleetOptions {
  /** More environment for a host process (a trust anchor and its identity file, say). */
  hostEnv?: (hostId: string) => NodeJS.ProcessEnv;
  /** The trust of the Consensus that proposes and drives here. */
  trust?: ProcessTrust;
}

export async function startConsensusFleet(fleet: CliFleet, redisUrl: string, prefix: string, hostCount: number, agentsPerHost: number, opts: ConsensusFleetOptions = {}): Promise<ConsensusFleet> {
  const ids = Array.from({ length: hostCount }, (_, i) => `ch${i}`);
  const spawnHost = (id: string) =>
    fleet.spawn(['agents', '--count', String(agentsPerHost), '--type', 'voter', '--host-id', id, '--redis-url', redisUrl, '--prefix', prefix], {
      env: { SWARMQ_LOG_LEVEL: 'warn', SWARMQ_HEARTBEAT_INTERVAL_MS: '200', ...opts.hostEnv?.(id) },
    });
  const children = ids.map(spawnHost);
  // "agents ready" is printed to stdout by the CLI once every agent is seated.
  const conn = connectTo(redisUrl);
  try {
    const deadline = Date.now() + 50_000;
    for (;;) {
      const n = await conn.hlen(swarmKeys(prefix).agents);
      if (n >= hostCount * agentsPerHost) break;
      for (const c of children) if (c.child.exitCode !== null) throw new Error(`agent host exited: ${c.output()}`);
      if (Date.now() > deadline) throw new Error(`only ${n} of ${hostCount * agentsPerHost} agents registered in 50 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    conn.disconnect();
  }
  const redis = connectTo(redisUrl);
  redis.on('error', () => {});
  const hosts: { id: string; child: CliChild; agents: string[] }[] = ids.map((id, i) => ({ id, child: children[i]!, agents: Array.from({ length: agentsPerHost }, (_, k) => `${id}-a${k + 1}`) }));
  const consensus = new Consensus({ redis: redisUrl, prefix, ...(opts.trust ? { trust: opts.trust } : {}) });
  await consensus.drive();
  return {
    prefix,
    redis,
    liveWithinMs: 10_000,
    hosts,
    consensus,
    agents: hosts.flatMap((h) => h.agents),
    async restart(id) {
      const host = hosts.find((h) => h.id === id)!;
      const before = new Map<string, string | undefined>();
      const old = await Promise.all(host.agents.map(async (a) => [a, await redis.hget(swarmKeys(prefix).agents, a)] as const));
      for (const [a, raw] of old) before.set(a, raw ? (JSON.parse(raw) as { consensusKey?: string }).consensusKey : undefined);
      host.child = spawnHost(id);
      // Back when every agent is registered again, under its old id, with a fresh key.
      const deadline = Date.now() + 50_000;
      for (;;) {
        const now = await Promise.all(host.agents.map((a) => redis.hget(swarmKeys(prefix).agents, a)));
        const fresh = now.every((raw, i) => raw && (JSON.parse(raw) as { consensusKey?: string }).consensusKey !== before.get(host.agents[i]!));
        if (fresh) return;
        if (host.child.child.exitCode !== null) throw new Error(`restarted host exited: ${host.child.output()}`);
        if (Date.now() > deadline) throw new Error(`host ${id} did not come back within 50 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      await consensus.close();
      redis.disconnect();
      for (const h of hosts) if (h.child.child.exitCode === null && h.child.child.signalCode === null) h.child.child.kill('SIGKILL');
    },
  };
}

/** Participants host by host in turn (ch0-a1, ch1-a1, …, ch0-a2, …): the first, who proposes, runs on ch0. */
export function interleaved(swarm: ConsensusFleet): string[] {
  const out: string[] = [];
  const per = swarm.hosts[0]!.agents.length;
  for (let i = 0; i < per; i++) for (const h of swarm.hosts) out.push(h.agents[i]!);
  return out;
}
