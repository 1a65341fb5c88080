// PBFT among 100 agents on 4 agent host processes; the host of the first
// proposer is SIGKILLed mid-round (25 of 100 agents, within PBFT's fault model):
// the 75 others still decide the proposed value, and no two agents disagree.
import { describe, it } from 'vitest';
import { consensusFleetForFile } from '../support/consensusFleetForFile.ts';
import { killHostMidRound } from '../support/consensusKill.ts';

const file = consensusFleetForFile('cpbft', 4, 25);

describe('PBFT with a host killed mid-round', () => {
  it('still decides among the survivors, and they never disagree', () => killHostMidRound(file.swarm, 'pbft'), 45_000);
});
