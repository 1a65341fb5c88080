// What the simulator needs from the quorum protocol: its invariants, where
// proposals go (any node: every node can propose), and its liveness bound.
import type { NodeId, Value } from '../protocol.ts';
import type { SimNode, SimSpec } from '../sim/spec.ts';
import { quorum, type QuorumMessage, type QuorumState } from './index.ts';
import { reachesDecide, weightOf } from './rules.ts';

export { quorum };

/**
 * The quorum protocol's own invariants over every node's current state (a
 * crashed node keeps the state it had when it crashed, which still obeys them):
 *   - a voter's latest vote is never above its promise;
 *   - a node only ever leads ballots it owns (b mod n = its index);
 *   - one ballot carries one value: two nodes' votes in the same ballot agree;
 *   - a value that is chosen right now (the latest votes of one ballot reach
 *     the decide quorum) is the value every node has decided, if any: this
 *     catches a split before any node learns it.
 */
export function quorumInvariants(nodes: readonly SimNode<QuorumState>[]): string[] {
  const out: string[] = [];
  const byBallot = new Map<number, { value: Value; voters: NodeId[] }[]>();
  const decided = new Map<Value, NodeId>();
  for (const node of nodes) {
    const s = node.state;
    const n = s.config.peers.length;
    const index = s.config.indexOf.get(node.id);
    if (s.accepted !== null && s.config.accept !== undefined && s.accepted.value !== s.config.accept) out.push(`${node.id} voted for ${JSON.stringify(s.accepted.value)}, which it does not accept`);
    if (s.accepted !== null && s.accepted.ballot > s.promised) out.push(`${node.id} voted in ballot ${s.accepted.ballot} above its promise ${s.promised}`);
    if (s.maxBallot >= 0 && s.maxBallot % n !== index) out.push(`${node.id} led ballot ${s.maxBallot}, owned by index ${s.maxBallot % n}, not its index ${String(index)}`);
    if (s.proposer !== null && s.proposer.ballot > s.maxBallot) out.push(`${node.id} leads ballot ${s.proposer.ballot} above its persisted maxBallot ${s.maxBallot}`);
    if (s.accepted !== null) {
      const groups = byBallot.get(s.accepted.ballot) ?? [];
      const group = groups.find((g) => g.value === s.accepted?.value);
      if (group) group.voters.push(node.id);
      else groups.push({ value: s.accepted.value, voters: [node.id] });
      byBallot.set(s.accepted.ballot, groups);
    }
    if (!node.byzantine && s.decided !== null) decided.set(s.decided, node.id);
  }
  const rule = nodes[0]?.state.config.rule;
  for (const [ballot, groups] of byBallot) {
    if (groups.length > 1) out.push(`ballot ${ballot} carries ${groups.length} values: ${groups.map((g) => `${JSON.stringify(g.value)} (${g.voters.join(',')})`).join(' vs ')}`);
    if (rule === undefined) continue;
    for (const g of groups) {
      if (!reachesDecide(rule, weightOf(rule, g.voters))) continue;
      for (const [value, node] of decided) {
        if (value !== g.value) out.push(`${JSON.stringify(g.value)} is chosen in ballot ${ballot} (${g.voters.join(',')}) but ${node} decided ${JSON.stringify(value)}`);
      }
    }
  }
  return out;
}

/**
 * Liveness bound, in ticks after the heal. A node that missed the decision
 * notices within its round timeout, 10–19 ticks by default; a new ballot then
 * takes prepare + promise + accept + vote, four hops of ≤ 2 ticks; a rival
 * that times out within those few ticks can pre-empt it once or twice before
 * the backoff (a node yields to a higher ballot and restarts its timer)
 * settles it. Over 20,000 seeds (n = 3–7) the slowest run needed 32 ticks; 60 leaves room for unluckier schedules.
 */
export const QUORUM_LIVENESS_TICKS = 60;

export const quorumSimSpec: SimSpec<QuorumState, QuorumMessage> = {
  protocol: quorum,
  invariants: quorumInvariants,
  // Any node may propose: a client picks an up node at random (a proposal to a down node would just be lost).
  proposeTo(nodes, rng) {
    const up = nodes.filter((n) => n.up);
    const from = up.length > 0 ? up : nodes;
    return (from[rng.int(0, from.length - 1)] as SimNode<QuorumState>).id;
  },
  livenessTicks: QUORUM_LIVENESS_TICKS,
  knownProposal: true,
};
