// Where consensus lives in Redis. Proposals are jobs of one BullMQ queue; a
// round's durable state sits beside it under the swarm's hash tag; each agent
// host (and each proposal driver) reads one inbox stream.
import { bullKey, CONSENSUS_QUEUE } from '../../../queues/keys.ts';

/** An inbox is approximately capped: a reader that fell this far behind has lost the round anyway (protocols retransmit). */
export const INBOX_MAXLEN = 100_000;

/** Round keys expire this long after the round ends (the job keeps the outcome as long as BullMQ keeps the job). */
export const ROUND_KEEP_SECONDS = 7 * 24 * 3600;

/**
 * A replicated task rejected with retry runs again as a new revision: new
 * replicas, a new vote. Each revision after the first has an id of its own,
 * `<task>~<revision>`, for its round (decisions and every voter's persisted
 * state are kept per round: a second vote under the first one's id would find
 * the first one's decisions, and agents that voted refuse to vote otherwise in
 * the same round) and for its replicas' seat claims and output proofs. The
 * first revision keeps the task's own id, as before revisions existed.
 */
export const REVISION_SEPARATOR = '~';

export function revisionId(taskId: string, revision: number): string {
  return revision <= 1 ? taskId : `${taskId}${REVISION_SEPARATOR}${revision}`;
}

/** The job a round's spec is read from: a revision's round is its task's (proposal and task ids never hold '~'). */
export function roundJobId(round: string): string {
  const at = round.indexOf(REVISION_SEPARATOR);
  return at < 0 ? round : round.slice(0, at);
}

export function consensusKeys(prefix: string) {
  const base = `${prefix}:{swarm}:consensus`;
  return {
    /** Stream of inbox items for one agent host, or one driver. */
    inbox: (hostId: string) => `${base}:inbox:${hostId}`,
    /** hash agentId → the core's last `persist` (JSON), written before any message that depends on it is sent */
    state: (round: string) => `${base}:round:${round}:state`,
    /** hash agentId → { value, rounds, at } of the agent's decision */
    decided: (round: string) => `${base}:round:${round}:decided`,
    /**
     * hash of one host's replay protection for a round (replayState.ts): `r <sender>` → the window of message
     * numbers accepted from it, `s <agent>` → the number of a local agent's next message. Written with the
     * state, so a host that reloads the round refuses what it accepted and never reuses a number.
     */
    replay: (round: string, hostId: string) => `${base}:round:${round}:replay:${hostId}`,
    /** hash reason → count of messages dropped for this round (forged, replayed, malformed, non-participant) */
    rejected: (round: string) => `${base}:round:${round}:rejected`,
    /** hash of swarm-wide counters (items for rounds no host knows, unreadable stream entries) */
    stats: `${prefix}:{swarm}:stats`,
    /** The BullMQ job hash of a proposal: hosts read a round's spec from it, never from the wire. */
    job: (round: string) => bullKey(prefix, CONSENSUS_QUEUE, roundJobId(round)),
  };
}

export type ConsensusKeys = ReturnType<typeof consensusKeys>;
