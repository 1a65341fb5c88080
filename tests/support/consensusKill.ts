// A host SIGKILLed in the middle of a round, made deterministic: the other
// hosts are frozen (SIGSTOP) while the round starts, so the first host's agents
// take part alone (they persist their terms, votes, pre-prepares and send
// their messages) but cannot decide; then that host is killed and the others
// resume. The round must still decide, among the 75 survivors, and no two
// agents may decide differently.
import { expect } from 'vitest';
import type { ProtocolName } from '../../src/consensus/protocol.ts';
import { consensusKeys } from '../../src/consensus/runtime/keys.ts';
import { parseDecisions } from '../../src/consensus/runtime/outcome.ts';
import { interleaved, type ConsensusFleet } from './consensusFleet.ts';
import { until } from './swarm.ts';

export async function killHostMidRound(swarm: ConsensusFleet, protocol: ProtocolName): Promise<void> {
  const conn = swarm.redis;
  const [victim, ...others] = swarm.hosts;
  const participants = interleaved(swarm);
  const k = consensusKeys(swarm.prefix);
  for (const h of others) h.child.child.kill('SIGSTOP');
  try {
    const { id } = await swarm.consensus.submit({ protocol, value: { leader: 'chosen' }, participants, timeoutMs: 25_000 });
    // The victim's agents have taken part: their protocol state is persisted (and so their messages are out).
    await until(async () => (await conn.hkeys(k.state(id))).filter((a) => a.startsWith(`${victim!.id}-`)).length >= 2, 10_000, `${victim!.id}'s agents to take part`);
    await new Promise((r) => setTimeout(r, 200));
    expect(await conn.hlen(k.decided(id)), 'nothing can be decided while 75 of 100 are frozen').toBe(0);
    victim!.child.child.kill('SIGKILL');
    await victim!.child.exited;
    for (const h of others) h.child.child.kill('SIGCONT');

    const view = await until(async () => {
      const v = await swarm.consensus.get(id);
      return v?.state === 'completed' ? v : undefined;
    }, 25_000, `the ${protocol} round to finish`);
    expect(view.outcome).toMatchObject({ decided: true, value: { leader: 'chosen' }, participants: 100 });
    // Never disagree: every decision recorded is the same value; the dead host decided nothing.
    await new Promise((r) => setTimeout(r, 300));
    const decisions = parseDecisions(await conn.hgetall(k.decided(id)));
    expect(new Set([...decisions.values()].map((d) => d.value))).toEqual(new Set([JSON.stringify({ leader: 'chosen' })]));
    expect([...decisions.keys()].filter((a) => a.startsWith(`${victim!.id}-`))).toEqual([]);
    expect(decisions.size).toBeGreaterThanOrEqual(protocol === 'pbft' ? 34 : 1);
  } finally {
    for (const h of others) h.child.child.kill('SIGCONT');
  }
}
