// A proposal at every boundary: what a caller may ask for (HTTP, the client),
// what the queued job carries (the round's spec, fixed at propose time), and
// what comes back.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ProtocolName } from '../protocol.ts';
import { PROTOCOL_NAMES } from './protocols.ts';
import { agentCertSchema } from '../../trust/certificates.ts';
import { signedSchema } from '../../trust/signed.ts';

const agentId = z.string().min(1).max(200);

/**
 * The only proposal ids swarmq issues: `p-` and 16 hex digits. A lookup checks
 * an id against it before building a key, since the id becomes part of one
 * (`<prefix>:consensus:<id>`: `meta` or `events` would name BullMQ's own keys).
 */
export const PROPOSAL_ID = /^p-[0-9a-f]{16}$/;
export const proposalIdSchema = z.string().regex(PROPOSAL_ID, 'not a proposal id swarmq issues (p-<16 hex digits>)');

export function newProposalId(): string {
  return `p-${randomBytes(8).toString('hex')}`;
}

/** Values travel as JSON text inside protocol messages; 64 KiB keeps a round's messages small. */
export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_PARTICIPANTS = 1000;

export const proposalInputSchema = z.strictObject({
  protocol: z.string().min(1).max(64),
  /** Any JSON value; the participants agree on it. */
  value: z.json(),
  /** Agent ids, or how many live agents (of a type) to choose. Default: every live agent. */
  participants: z
    .union([
      z.array(agentId).min(1).max(MAX_PARTICIPANTS),
      z.strictObject({ count: z.int().min(1).max(MAX_PARTICIPANTS), type: z.string().min(1).max(128).optional() }),
    ])
    .optional(),
  /** Give up (decided: false) after this long. */
  timeoutMs: z.int().min(10).max(600_000).default(10_000),
  /**
   * One protocol tick: the cores count their timeouts (elections, view
   * changes, retransmissions, retries) in ticks, never the happy path. 50 ms
   * keeps a round of 100 agents on a busy machine clear of its own timeouts
   * (PBFT retransmits after 4 ticks, suspects its primary after 20).
   */
  tickMs: z.int().min(1).max(1000).default(50),
});

export type ProposalInput = z.input<typeof proposalInputSchema>;

export const participantSchema = z.strictObject({
  id: agentId,
  /** The agent host it runs on: its messages go to that host's inbox. */
  host: z.string().min(1).max(200),
  /** Its X25519 public key, from its record when the proposal was made. */
  key: z.string().min(1).max(100),
});
export type Participant = z.infer<typeof participantSchema>;

/**
 * The seed of a round's cores (their randomized timeouts), derived from the
 * round's id rather than drawn: the same round always replays the same way,
 * in the simulator or from its job, and nothing in a decision is random.
 */
export function roundSeed(roundId: string): number {
  return createHash('sha256').update(roundId).digest().readUInt32BE(0) >>> 1;
}

/** The job data of a proposal: everything a host needs to run its agents' part of the round. */
export const roundSpecSchema = z.strictObject({
  id: z.string().min(1).max(100),
  protocol: z.enum(PROTOCOL_NAMES as [ProtocolName, ...ProtocolName[]]),
  /** JSON text of the value: cores compare values as strings. */
  value: z.string().max(MAX_VALUE_BYTES),
  participants: z.array(participantSchema).min(1).max(MAX_PARTICIPANTS),
  seed: z.int(),
  tickMs: z.int().min(1).max(1000),
  timeoutMs: z.int().min(10).max(600_000),
  createdAt: z.number(),
  /**
   * Replicated tasks: per participant, the only value it may vote for (the
   * hash of its own output; null when its replica failed). Hosts hand each
   * local agent its own to the core (ProtocolOptions.accept).
   */
  accepts: z.record(agentId, z.string().max(200).nullable()).optional(),
  /** With a trust anchor, as first written: each participant's key certificate (its host's enrollment, and the host's statement of the key). */
  certs: z.record(agentId, agentCertSchema).optional(),
  /**
   * With a trust anchor, the same certificates with each host's enrollment
   * written once (a round of 100 agents on 4 hosts carries 4, not 100):
   * per host its enrollment, per participant its host's statement of its key.
   * A spec carries these or `certs` (roundProof.ts certifySpec).
   */
  hostEnrollments: z.record(z.string().min(1).max(200), signedSchema).optional(),
  agentKeys: z.record(agentId, signedSchema).optional(),
  /** With a trust anchor: the proposer's enrollment and its signature over the rest of the spec (roundProof.ts). */
  signature: z.strictObject({ proposer: signedSchema, sig: z.string().min(1).max(100) }).optional(),
});
export type RoundSpec = z.infer<typeof roundSpecSchema>;

/**
 * The spec in a consensus-queue job's data: a proposal's data is its spec; a
 * replicated task's data carries the spec of its vote under `round` once the
 * replicas have finished (undefined before: there is no round yet).
 */
export function roundSpecOfJobData(data: unknown): RoundSpec | undefined {
  if (data !== null && typeof data === 'object' && 'replicated' in data) {
    const round = (data as { round?: unknown }).round;
    return round === undefined ? undefined : roundSpecSchema.parse(round);
  }
  return roundSpecSchema.parse(data);
}

/** One agent's decision, as its host records it. */
export const decisionSchema = z.strictObject({
  value: z.string(),
  rounds: z.int().min(1),
  at: z.number(),
  /** With a trust anchor: the host's signature over the round, the spec's digest, the agent and the value (roundProof.ts). */
  sig: z.string().max(100).optional(),
});
export type Decision = z.infer<typeof decisionSchema>;

export interface ProposalResult {
  id: string;
  protocol: ProtocolName;
  decided: boolean;
  /** The decided value (null when not decided). */
  value: unknown;
  /** Participants that have decided it (a PBFT outcome needs f+1 of them). */
  votes: number;
  participants: number;
  /** Most rounds any decider went through: 1 when the first ballot, term or view decided. */
  rounds: number;
  /** From the proposal to the decision that made it final. */
  latencyMs: number;
  /** Messages dropped and counted for this round, by reason (and decisions not counted: `unsigned-decision`). */
  rejected: Record<string, number>;
  /** Present when checked against a trust anchor: true when the spec is an enrolled proposer's and only host-signed decisions were counted. */
  certified?: boolean;
}
