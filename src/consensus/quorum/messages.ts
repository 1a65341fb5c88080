// The quorum protocol's wire messages, validated strictly: an unknown field,
// a missing one, a negative or fractional ballot, or an unknown type fails the
// schema and the shell drops the message before it reaches the core.
//
// Ballots are integers b = round·n + i, where i is the proposer's index in the
// agreed participant order: every ballot has exactly one owner (b mod n), and
// ballots are totally ordered.
import { z } from 'zod';

const ballot = z.int().nonnegative();
const value = z.string();
const vote = z.strictObject({ ballot, value });

export const quorumMessageSchema = z.discriminatedUnion('type', [
  /** Phase 1a, proposer → all: "promise to ignore ballots below `ballot`". */
  z.strictObject({ type: z.literal('prepare'), ballot }),
  /** Phase 1b, voter → proposer: the promise, with the voter's latest vote (null: never voted). */
  z.strictObject({ type: z.literal('promise'), ballot, accepted: vote.nullable() }),
  /** Phase 2a, proposer → all: the proposal of one value in one ballot. */
  z.strictObject({ type: z.literal('accept'), ballot, value }),
  /** Phase 2b, voter → all: the vote. Every node tallies votes, so every node learns the decision. */
  z.strictObject({ type: z.literal('vote'), ballot, value }),
  /** Voter → proposer: refused, it has promised `promised` > `ballot`. */
  z.strictObject({ type: z.literal('nack'), ballot, promised: ballot }),
  /** A node that has decided tells one that asked (prepare, accept or query): catch-up after drops and restarts. */
  z.strictObject({ type: z.literal('decided'), value }),
  /** An undecided node with nothing to propose asks whether anyone has decided. */
  z.strictObject({ type: z.literal('query') }),
]);

export type QuorumMessage = z.infer<typeof quorumMessageSchema>;
export type QuorumVote = z.infer<typeof vote>;
