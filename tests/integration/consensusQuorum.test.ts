// A quorum round among 100 agents on 4 agent host processes, through real
// Redis: every message sealed by its sender and opened by its receiver, the
// outcome durable with the proposal, and every agent that decided agrees.
// Then messages forged, replayed and garbled straight into the hosts' inbox
// streams: each is counted as rejected and none sways the round.
import { describe, expect, it } from 'vitest';
import { consensusKeys } from '../../src/consensus/runtime/keys.ts';
import { parseDecisions } from '../../src/consensus/runtime/outcome.ts';
import { interleaved } from '../support/consensusFleet.ts';
import { consensusFleetForFile } from '../support/consensusFleetForFile.ts';
import { until } from '../support/swarm.ts';

const file = consensusFleetForFile('cq', 4, 25);

describe('quorum among 100 agents on 4 hosts', () => {
  it('decides the proposed value; the decision is persisted and every decider agrees', async () => {
    const { swarm } = file;
    const conn = swarm.redis;
    const r = await swarm.consensus.propose({ protocol: 'quorum', value: { deploy: 'v2' }, participants: { count: 100 }, timeoutMs: 15_000 });
    expect(r).toMatchObject({ decided: true, value: { deploy: 'v2' }, participants: 100 });
    expect(r.rounds).toBeGreaterThanOrEqual(1);
    expect(r.votes).toBeGreaterThanOrEqual(1);
    expect(r.rejected).toEqual({});
    // Every participant learns it (votes go to all); decisions are in Redis, one value.
    const k = consensusKeys(swarm.prefix);
    const decisions = await until(async () => {
      const d = parseDecisions(await conn.hgetall(k.decided(r.id)));
      return d.size === 100 ? d : undefined;
    }, 15_000, 'all 100 agents to decide');
    expect(new Set([...decisions.values()].map((d) => d.value))).toEqual(new Set([JSON.stringify({ deploy: 'v2' })]));
    // Agents from all four hosts took part, and each persisted its vote before sending it.
    expect(new Set([...decisions.keys()].map((a) => a.split('-')[0]))).toEqual(new Set(['ch0', 'ch1', 'ch2', 'ch3']));
    expect(await conn.hlen(k.state(r.id))).toBe(100);
    // The outcome is the job's: GET reads it back.
    const view = await swarm.consensus.get(r.id);
    expect(view).toMatchObject({ id: r.id, protocol: 'quorum', state: 'completed', value: { deploy: 'v2' }, outcome: { decided: true } });
    expect(view!.participants).toHaveLength(100);
  }, 30_000);

  it('forged, replayed and malformed messages injected into Redis are counted as rejected and change nothing', async () => {
    const { swarm } = file;
    const conn = swarm.redis;
    const k = consensusKeys(swarm.prefix);
    const [ch0, ...others] = swarm.hosts;
    // Freeze 75 of the 100: the round starts on ch0 (its agents vote) but cannot decide, so the injections land mid-round.
    for (const h of others) h.child.child.kill('SIGSTOP');
    try {
      const honest = JSON.stringify({ deploy: 'v3' });
      // Ballot 0's owner (the first participant, to whom every vote goes) is on ch1: ch0's votes wait in ch1's inbox, to be replayed.
      const order = interleaved(swarm);
      const { id } = await swarm.consensus.submit({ protocol: 'quorum', value: { deploy: 'v3' }, participants: [...order.slice(1), order[0]!], timeoutMs: 20_000 });
      await until(async () => (await conn.hlen(k.state(id))) >= 25, 10_000, "ch0's agents to vote");
      const ch0Agents = ch0!.agents;
      // 75 votes for another value "from" the frozen agents, addressed to every ch0 agent with made-up MACs: a majority if they counted.
      const mac = Buffer.alloc(32, 7).toString('base64');
      const forged = others.flatMap((h) => h.agents).map((from, i) => ({
        k: 'env',
        env: { round: id, from, seq: 1000 + i, body: JSON.stringify({ to: ch0Agents, m: { type: 'vote', ballot: 0, value: JSON.stringify({ deploy: 'evil' }) } }), macs: Object.fromEntries(ch0Agents.map((a) => [a, mac])) },
      }));
      // From an agent that is no participant, and an envelope that is no envelope.
      const intruder = { k: 'env', env: { round: id, from: 'intruder-a1', seq: 0, body: '{}', macs: Object.fromEntries(ch0Agents.map((a) => [a, mac])) } };
      const garbled = { k: 'env', env: { round: id, from: ch0Agents[0], seq: 'x', macs: {} } };
      await conn.xadd(k.inbox(ch0!.id), '*', 'm', JSON.stringify([...forged, intruder, garbled]));
      await conn.xadd(k.inbox(ch0!.id), '*', 'm', 'not json');
      // A replay: a genuine batch ch0 sent to ch1, copied into ch1's inbox a second time.
      const sent = await conn.xrange(k.inbox(others[0]!.id), '-', '+');
      const genuine = sent.find(([, f]) => (JSON.parse(f[1]!) as { k: string; env?: { round: string } }[]).some((item) => item.k === 'env' && item.env?.round === id));
      expect(genuine, 'ch0 has sent ch1 protocol messages').toBeDefined();
      const envs = (JSON.parse(genuine![1][1]!) as { k: string; env?: { macs: Record<string, string> } }[]).filter((i) => i.k === 'env');
      const replayedCopies = envs.length;
      await conn.xadd(k.inbox(others[0]!.id), '*', 'm', genuine![1][1]!);
      await until(async () => Number(await conn.hget(k.rejected(id), 'forged')) >= 75, 10_000, 'ch0 to reject the forgeries');
      expect(await conn.hlen(k.decided(id)), 'no forged vote was counted').toBe(0);
      for (const h of others) h.child.child.kill('SIGCONT');

      const view = await until(async () => {
        const v = await swarm.consensus.get(id);
        return v?.state === 'completed' ? v : undefined;
      }, 20_000, 'the round to finish');
      expect(view.outcome).toMatchObject({ decided: true, value: { deploy: 'v3' } });
      const rejected = await until(async () => {
        const r = await conn.hgetall(k.rejected(id));
        return Number(r.replayed ?? 0) >= replayedCopies ? r : undefined;
      }, 10_000, 'ch1 to reject the replay');
      // One MAC check per envelope on the receiving host (it holds all its agents' keys), so each counts once.
      expect(rejected).toEqual({ forged: '75', 'non-participant': '1', malformed: '1', replayed: String(replayedCopies) });
      expect(Number(await conn.hget(k.stats, 'consensusBadItems'))).toBe(1);
      const decisions = parseDecisions(await conn.hgetall(k.decided(id)));
      expect(new Set([...decisions.values()].map((d) => d.value))).toEqual(new Set([honest]));
    } finally {
      for (const h of others) h.child.child.kill('SIGCONT');
    }
  }, 45_000);
});
