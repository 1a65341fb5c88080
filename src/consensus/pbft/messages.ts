// PBFT wire messages, validated strictly (unknown keys, wrong types, negative or
// fractional numbers are rejected before a message is ever stepped). `from` is
// not in the message: the shell authenticates the sender and hands it to the
// step. Whatever a message says about OTHER replicas (a view change's prepared
// requests, a new view's set of view changes) is only a claim of its sender;
// the core never trusts such a claim on its own (see viewChange.ts).
import { z } from 'zod';

const seqNo = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const node = z.string().min(1).max(256);
const digest = z.string().min(1).max(128);
/** Values are opaque strings (JSON of the user's value). */
const value = z.string().max(1_000_000);

/** A limit on list lengths far above anything an honest replica sends, so a forged list cannot make a replica loop for ever. */
const MAX_LIST = 4096;

export const checkpointRefSchema = z.strictObject({ seq: seqNo, digest });
export type CheckpointRef = z.infer<typeof checkpointRefSchema>;

/** A pre-prepare of a view change's new view: `value` null is the null request. */
export const orderedSchema = z.strictObject({ seq: seqNo, digest, value: value.nullable() });
export type Ordered = z.infer<typeof orderedSchema>;

/**
 * The body of a VIEW-CHANGE (Castro's thesis, §3.2.4 — the MAC variant): the
 * sender's stable checkpoint `stableSeq`, the checkpoints it holds, and what it
 * prepared (P: per sequence number, the latest view it prepared in) and
 * pre-prepared (Q: per sequence number, the latest view of each digest) above
 * its stable checkpoint. Nothing in it is a certificate from others.
 */
export const viewChangeBodySchema = z.strictObject({
  view: seqNo,
  stableSeq: seqNo,
  checkpoints: z.array(checkpointRefSchema).max(MAX_LIST),
  prepared: z.array(z.strictObject({ seq: seqNo, view: seqNo, digest, value: value.nullable() })).max(MAX_LIST),
  prePrepared: z.array(z.strictObject({ seq: seqNo, entries: z.array(z.strictObject({ digest, view: seqNo })).max(64) })).max(MAX_LIST),
});
export type ViewChangeBody = z.infer<typeof viewChangeBodySchema>;

const installSchema = {
  view: seqNo,
  /** The checkpoint the new view starts from. */
  checkpoint: checkpointRefSchema,
  /** The O set: pre-prepares of the new view for every sequence number above the checkpoint up to the highest prepared one. */
  prePrepares: z.array(orderedSchema).max(MAX_LIST),
};

export const pbftMessageSchema = z.discriminatedUnion('type', [
  /** A client request relayed by the replica it reached (to every replica, so each can watch the primary). */
  z.strictObject({ type: z.literal('request'), value }),
  z.strictObject({ type: z.literal('pre-prepare'), view: seqNo, seq: seqNo, digest, value }),
  z.strictObject({ type: z.literal('prepare'), view: seqNo, seq: seqNo, digest }),
  z.strictObject({ type: z.literal('commit'), view: seqNo, seq: seqNo, digest }),
  /** The sender executed up to `seq` and its state digest there is `digest`. */
  z.strictObject({ type: z.literal('checkpoint'), seq: seqNo, digest }),
  z.strictObject({ type: z.literal('view-change'), body: viewChangeBodySchema }),
  /** The sender holds, from each `of`, the view change for `view` with that digest. */
  z.strictObject({ type: z.literal('view-change-ack'), view: seqNo, acks: z.array(z.strictObject({ of: node, digest })).max(MAX_LIST) }),
  /** From the new primary: the view changes it chose (S) and the new view computed from them. */
  z.strictObject({
    type: z.literal('new-view'),
    ...installSchema,
    viewChanges: z.array(z.strictObject({ from: node, body: viewChangeBodySchema })).max(MAX_LIST),
  }),
  /** "I installed this new view": f+1 of these let a replica that missed the view change join it. */
  z.strictObject({ type: z.literal('new-view-echo'), ...installSchema }),
  /** Where the sender is; peers answer with what it is missing. */
  z.strictObject({ type: z.literal('status'), view: seqNo, active: z.boolean(), lastExec: seqNo, execDigest: digest, stable: checkpointRefSchema }),
  /** Executed requests start+1 … start+values.length, for a replica that is behind; `startDigest`/`startCount` describe the state at `start`. */
  z.strictObject({ type: z.literal('state'), start: seqNo, startDigest: digest, startCount: seqNo, values: z.array(value.nullable()).max(MAX_LIST) }),
]);

export type PbftMessage = z.infer<typeof pbftMessageSchema>;
export type PbftMessageType = PbftMessage['type'];
export type MessageOf<T extends PbftMessageType> = Extract<PbftMessage, { type: T }>;
/** What a NEW-VIEW (and its echo) installs. */
export interface Install {
  readonly view: number;
  readonly checkpoint: CheckpointRef;
  readonly prePrepares: readonly Ordered[];
}
