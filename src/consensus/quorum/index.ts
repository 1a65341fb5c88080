// The quorum protocol: one round of votes, decided at a majority (or a
// configured threshold, or by weight), safe against rival proposers, crashes
// and restarts. See core.ts for why it is safe and rules.ts for the quorums.
import type { Protocol } from '../protocol.ts';
import { stepQuorum } from './core.ts';
import { quorumMessageSchema, type QuorumMessage } from './messages.ts';
import { initQuorum, recoverQuorum, type QuorumState } from './state.ts';

export type { QuorumMessage, QuorumVote } from './messages.ts';
export type { QuorumState, QuorumDurable, QuorumConfig } from './state.ts';
export { quorumMessageSchema } from './messages.ts';
export { majority, quorumRule, reachesDecide, reachesPrepare, weightOf, type QuorumRule, type DecideRule } from './rules.ts';

export const quorum: Protocol<QuorumState, QuorumMessage> = {
  name: 'quorum',
  init: initQuorum,
  recover: recoverQuorum,
  step: stepQuorum,
  messageSchema: quorumMessageSchema,
  // Crash faults: a majority must stay up to decide, so fewer than half may fail.
  faultTolerance: (n) => Math.max(0, Math.ceil(n / 2) - 1),
};
