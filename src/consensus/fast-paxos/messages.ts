// Fast Paxos wire messages (single decree, slot 0), validated strictly: a
// message with an unknown field, a wrong type or an impossible round is
// rejected by the shell before it reaches the core.
import { z } from 'zod';

const round = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Classic rounds only: round 0 is the fast round, whose Phase 1 is empty and whose Phase 2a "any" is implicit. */
const classicRound = round.min(1);
const value = z.string();

export const fastPaxosMessageSchema = z.discriminatedUnion('type', [
  /** A proposer's value, multicast to every acceptor (accepted directly in the fast round). */
  z.strictObject({ type: z.literal('propose'), value }),
  /** Phase 1a: the coordinator of `round` asks acceptors to join it. */
  z.strictObject({ type: z.literal('1a'), round: classicRound }),
  /**
   * Phase 1b: an acceptor joins `round` and reports its last vote (vrnd = −1 and
   * vval = null when it never voted), plus a proposed value it heard of, if any,
   * so that the coordinator can pick a proposed value when nobody voted.
   */
  z
    .strictObject({
      type: z.literal('1b'),
      round: classicRound,
      vrnd: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER),
      vval: value.nullable(),
      proposal: value.nullable(),
    })
    .refine((m) => (m.vrnd === -1) === (m.vval === null), { message: 'vval must be null exactly when vrnd is -1' })
    .refine((m) => m.vrnd < m.round, { message: '1b reports a vote of an earlier round' }),
  /** Phase 2a of a classic round: the coordinator's one value for `round`. */
  z.strictObject({ type: z.literal('2a'), round: classicRound, value }),
  /** Phase 2b: an acceptor voted `value` in `round`; broadcast to every learner. */
  z.strictObject({ type: z.literal('2b'), round, value }),
  /** An acceptor has promised a higher round than the one asked (so its coordinator can move on). */
  z.strictObject({ type: z.literal('nack'), round: classicRound, promised: round }),
  /** A node that does not know the decision asks whether anyone does. */
  z.strictObject({ type: z.literal('query') }),
  /** The decided value, sent to a node that evidently does not know it yet. */
  z.strictObject({ type: z.literal('decided'), value }),
]);

export type FastPaxosMessage = z.infer<typeof fastPaxosMessageSchema>;
