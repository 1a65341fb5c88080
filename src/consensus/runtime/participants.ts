// Who takes part in a round: named agents, or `count` live agents (of a type)
// from the roster, spread across hosts so that losing one host costs the
// round as few participants as possible. Every participant must be live
// (its host beat within failedAfterMs) and have a registered consensus key.
import type { RedisClient } from '../../../queues/redisTarget.ts';
import { swarmKeys } from '../../../queues/keys.ts';
import { SwarmError } from '../../errors.ts';
import { agentRecordSchema, parseHash, type AgentRecord } from '../../swarm/records.ts';
import type { Participant } from './proposal.ts';
import { idOrder } from '../../swarm/idOrder.ts';
import { slotPipeline } from '../../../queues/slotPipeline.ts';
import type { AgentCert, CertVerifier } from '../../trust/certificates.ts';
import { certifiedKey } from './roundProof.ts';

export type ParticipantsRequest = readonly string[] | { count: number; type?: string | undefined } | undefined;

/**
 * With `verifier` (a trust anchor), an agent takes part only with a key its
 * host certified, and each participant comes with that certificate (`certs`).
 */
export async function resolveParticipants(
  redis: RedisClient,
  prefix: string,
  req: ParticipantsRequest,
  liveWithinMs: number,
  verifier?: CertVerifier,
): Promise<{ participants: Participant[]; certs: Record<string, AgentCert> }> {
  const keys = swarmKeys(prefix);
  const [[, rawAgents], [, rawHosts], [, time]] = (await slotPipeline(redis).hgetall(keys.agents).zrange(keys.hosts, '0', '-1', 'WITHSCORES').time().exec()) as [
    [Error | null, Record<string, string>],
    [Error | null, string[]],
    [Error | null, [string, string]],
  ];
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const beats = new Map<string, number>();
  for (let i = 0; i + 1 < rawHosts.length; i += 2) beats.set(rawHosts[i]!, Number(rawHosts[i + 1]));
  const agents = parseHash(rawAgents, agentRecordSchema, () => {});
  const certs: Record<string, AgentCert> = {};
  const certified = (a: AgentRecord) => {
    if (!verifier) return true;
    const cert = certifiedKey(verifier, a);
    if (cert) certs[a.id] = cert;
    return cert !== undefined;
  };
  const usable = (a: AgentRecord) => !a.pooled && a.consensusKey !== undefined && now - (beats.get(a.hostId) ?? -Infinity) <= liveWithinMs && certified(a);
  const toParticipant = (a: AgentRecord): Participant => ({ id: a.id, host: a.hostId, key: a.consensusKey! });
  const chosen = (list: Participant[]) => ({ participants: list, certs: verifier ? Object.fromEntries(list.map((p) => [p.id, certs[p.id]!])) : {} });
  const cannot = verifier ? 'not live, without a consensus key, or without a key certified by its host' : 'not live or without a consensus key';

  if (Array.isArray(req)) {
    const ids = req as readonly string[];
    if (new Set(ids).size !== ids.length) throw new SwarmError('invalid_request', 'participants must be distinct agent ids', [{ path: 'participants', message: 'duplicate agent id' }]);
    const missing = ids.filter((id) => !agents.has(id));
    if (missing.length) throw new SwarmError('invalid_request', `no such agent: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`, [{ path: 'participants', message: 'unknown agent' }]);
    const unusable = ids.filter((id) => !usable(agents.get(id)!));
    if (unusable.length) {
      throw new SwarmError('invalid_request', `agents ${cannot}: ${unusable.slice(0, 5).join(', ')}`, [{ path: 'participants', message: 'agent cannot take part' }]);
    }
    return chosen(ids.map((id) => toParticipant(agents.get(id)!)));
  }

  const type = req && 'type' in req ? req.type : undefined;
  const byHost = new Map<string, AgentRecord[]>();
  for (const a of [...agents.values()].sort((x, y) => idOrder(x.id, y.id))) {
    if (!usable(a) || (type !== undefined && a.type !== type)) continue;
    const list = byHost.get(a.hostId) ?? [];
    list.push(a);
    byHost.set(a.hostId, list);
  }
  // Round-robin over hosts: host A's first, host B's first, …, then the seconds.
  const spread: AgentRecord[] = [];
  const lists = [...byHost.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, l]) => l);
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) spread.push(l[i]!);
  const count = req && 'count' in req ? req.count : spread.length;
  if (spread.length < count) {
    throw new SwarmError('no_capable_agent', `asked for ${count} live agents${type ? ` of type ${type}` : ''}${verifier ? ' with certified keys' : ''}, the swarm has ${spread.length}`, { available: spread.length });
  }
  return chosen(spread.slice(0, count).map(toParticipant));
}
