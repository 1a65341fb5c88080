// An agent host killed mid-round and started again under the same host id
// rejoins the round: its agents take their seats back (same ids, fresh keys),
// reload their persisted Raft state (term, vote, log), and the round can only
// decide because they are back. Peers switch to the new keys once they see the
// returning agents' messages fail the old ones.
import { describe, expect, it } from 'vitest';
import { consensusKeys } from '../../src/consensus/runtime/keys.ts';
import { parseDecisions } from '../../src/consensus/runtime/outcome.ts';
import { interleaved } from '../support/consensusFleet.ts';
import { consensusFleetForFile } from '../support/consensusFleetForFile.ts';
import { until } from '../support/swarm.ts';

const file = consensusFleetForFile('crs', 4, 2);

describe('a host restarted mid-round', () => {
  it('reloads its agents\' Raft state and rejoins; the round decides only with them', async () => {
    const { swarm } = file;
    const conn = swarm.redis;
    const [ch0, ch1, ch2, ch3] = swarm.hosts;
    const k = consensusKeys(swarm.prefix);
    // 8 participants, a majority is 5. With ch1 and ch3 frozen, ch0 and ch2 (4) take part but cannot decide.
    ch1!.child.child.kill('SIGSTOP');
    ch3!.child.child.kill('SIGSTOP');
    try {
      const { id } = await swarm.consensus.submit({ protocol: 'raft', value: 'after-restart', participants: interleaved(swarm), timeoutMs: 60_000 });
      const persisted = await until(async () => {
        const states = await conn.hgetall(k.state(id));
        const mine = ch2!.agents.filter((a) => states[a] !== undefined);
        return mine.length === 2 ? states : undefined;
      }, 15_000, "ch2's agents to vote");
      // They voted in term ≥ 1, durably, before saying so.
      for (const a of ch2!.agents) expect(JSON.parse(persisted[a]!)).toMatchObject({ term: expect.any(Number), votedFor: expect.any(String) });
      expect(await conn.hlen(k.decided(id))).toBe(0);

      ch2!.child.child.kill('SIGKILL');
      await ch2!.child.exited;
      await swarm.restart(ch2!.id);
      // Alive now: ch0, ch1 and the new ch2, 6 of 8; without ch2's agents only 4, short of 5.
      ch1!.child.child.kill('SIGCONT');

      const view = await until(async () => {
        const v = await swarm.consensus.get(id);
        return v?.state === 'completed' ? v : undefined;
      }, 45_000, 'the round to decide');
      expect(view.outcome).toMatchObject({ decided: true, value: 'after-restart' });
      await until(async () => (await conn.hlen(k.decided(id))) >= 2, 10_000, 'followers to learn the commit');
      const decisions = parseDecisions(await conn.hgetall(k.decided(id)));
      expect(new Set([...decisions.values()].map((d) => d.value))).toEqual(new Set([JSON.stringify('after-restart')]));
      // The restarted agents' state went on from what they had persisted: never back to term 0.
      const after = await conn.hgetall(k.state(id));
      for (const a of ch2!.agents) expect(JSON.parse(after[a]!).term).toBeGreaterThanOrEqual(JSON.parse(persisted[a]!).term);
      expect(ch0!.child.child.exitCode).toBeNull();
    } finally {
      ch1!.child.child.kill('SIGCONT');
      ch3!.child.child.kill('SIGCONT');
    }
  }, 120_000);
});
