// The consensus section of a checkpoint (version 2): the proposals of the
// consensus queue and, for each, the durable state of its round, so a restored
// swarm's hosts resume each round from where its agents left it.
//
// Everything that decides is validated here, before restore writes anything:
// a proposal's spec with the very schema hosts read it with (roundSpecSchema),
// each recorded decision with decisionSchema, each persisted core state as
// JSON, and that every agent a round names is a participant of its proposal.
// Persisted states stay the exact text the host wrote: a core's recover() reads
// it back, and re-encoding it could only change what it recovers.
//
// Replicated tasks (`r-…` parents and their replica jobs) are not in this
// section: see CHECKPOINT_ABOUT for why.
import { z } from 'zod';
import { decisionSchema, roundSpecSchema } from '../consensus/runtime/proposal.ts';
import { isReplicatedTaskId } from '../consensus/runtime/judgeReplicated.ts';
import { CONSENSUS_QUEUE } from '../../queues/keys.ts';
import { jobIdProblem } from './names.ts';

/** Where a proposal's job was: unfinished ones restore as waiting; finished ones only with includeFinished. */
export const PROPOSAL_UNFINISHED_STATES = ['active', 'waiting', 'paused', 'prioritized', 'delayed'] as const;

const ms = z.number().int().min(0);
const ttlMs = z.number().int().positive().nullable();
const rawFields = z.record(z.string(), z.string());
const agentId = z.string().min(1).max(200);

const jsonText = (check?: (v: unknown) => string | undefined) =>
  z.string().superRefine((text, ctx) => {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not JSON' });
      return;
    }
    const why = check?.(v);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });

const decisionText = jsonText((v) => {
  const d = decisionSchema.safeParse(v);
  return d.success ? undefined : `not a decision { value, rounds, at }: ${d.error.issues[0]?.message ?? 'invalid'}`;
});

/** What the driver returned for a decided (or timed-out) proposal; loose so fields a newer swarmq adds survive. */
export const proposalResultSchema = z
  .object({
    id: z.string(),
    protocol: z.string(),
    decided: z.boolean(),
    value: z.unknown(),
    votes: z.number().int().min(0),
    participants: z.number().int().min(0),
    rounds: z.number().int().min(0),
    latencyMs: z.number().min(0),
    rejected: z.record(z.string(), z.number()),
  })
  .loose();

const proposalId = z
  .string()
  .min(1)
  .max(100)
  .superRefine((id, ctx) => {
    const problem = jobIdProblem(CONSENSUS_QUEUE, id);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .refine((id) => !isReplicatedTaskId(id), 'a replicated task: they are not carried in checkpoints');

export const unfinishedProposalSchema = z.strictObject({
  id: proposalId,
  state: z.enum(PROPOSAL_UNFINISHED_STATES),
  /** The job's data: the round's spec, exactly what hosts read. */
  spec: roundSpecSchema,
  /** BullMQ JobsOptions as given at propose time (attempts, retention). */
  opts: z.record(z.string(), z.unknown()),
  timestamp: ms,
  attemptsMade: z.number().int().min(0),
});

export const finishedProposalSchema = z.strictObject({
  id: proposalId,
  state: z.enum(['completed', 'failed']),
  spec: roundSpecSchema,
  /** The outcome (completed proposals): what GET /api/proposals/:id shows. */
  result: proposalResultSchema.optional(),
  finishedOn: ms,
  /** The rest of the job hash, raw (opts, timestamps, attempts, failedReason): written back as it was. */
  hash: rawFields,
});

// On `state`, so an error names the field that is wrong rather than "matches neither".
export const proposalSchema = z.discriminatedUnion('state', [unfinishedProposalSchema, finishedProposalSchema]);
export type CarriedProposal = z.infer<typeof proposalSchema>;
export type FinishedProposal = z.infer<typeof finishedProposalSchema>;

const roundHash = <T extends z.ZodType<string>>(value: T) => z.strictObject({ fields: z.record(agentId, value), ttlMs });

export const roundSchema = z.strictObject({
  /** The proposal's id (a round is named after it). */
  round: z.string().min(1).max(100),
  /** agentId → the core's last persisted state (JSON text, as the host wrote it). Absent: nobody persisted. */
  state: roundHash(jsonText()).optional(),
  /** agentId → its decision (JSON text). */
  decided: roundHash(decisionText).optional(),
  /** reason → messages dropped for this round. */
  rejected: z.strictObject({ fields: z.record(z.string().min(1), z.number().int().min(0)), ttlMs }).optional(),
});
export type CarriedRound = z.infer<typeof roundSchema>;

export const consensusSectionSchema = z.strictObject({
  /** The consensus queue was paused (no driver takes proposals): it stays so. */
  paused: z.boolean(),
  /** In the order drivers would take them. */
  proposals: z.array(proposalSchema),
  rounds: z.array(roundSchema),
});
export type ConsensusSection = z.infer<typeof consensusSectionSchema>;

/** A version-1 file's consensus: none (fresh each time: callers may add to it). */
export const emptyConsensus = (): ConsensusSection => ({ paused: false, proposals: [], rounds: [] });

/** Cross-field checks of the section, with paths under `consensus`. */
export function checkConsensusSection(c: ConsensusSection, ctx: z.RefinementCtx): void {
  const at = (...path: (string | number)[]) => ['consensus', ...path];
  const byId = new Map<string, CarriedProposal>();
  c.proposals.forEach((p, i) => {
    if (p.spec.id !== p.id) ctx.addIssue({ code: 'custom', path: at('proposals', i, 'spec', 'id'), message: `the spec names round ${p.spec.id}, not the proposal's id ${p.id}` });
    if (byId.has(p.id)) ctx.addIssue({ code: 'custom', path: at('proposals', i, 'id'), message: `proposal ${p.id} appears twice` });
    byId.set(p.id, p);
    if (p.state === 'completed' && !p.result) ctx.addIssue({ code: 'custom', path: at('proposals', i, 'result'), message: 'a completed proposal needs its result' });
    if (p.state === 'failed' && p.result) ctx.addIssue({ code: 'custom', path: at('proposals', i, 'result'), message: 'a failed proposal has no result' });
  });
  const seen = new Set<string>();
  c.rounds.forEach((r, i) => {
    if (seen.has(r.round)) ctx.addIssue({ code: 'custom', path: at('rounds', i, 'round'), message: `round ${r.round} appears twice` });
    seen.add(r.round);
    const p = byId.get(r.round);
    if (!p) {
      ctx.addIssue({ code: 'custom', path: at('rounds', i, 'round'), message: `no proposal ${r.round} in consensus.proposals: a round is carried only with its proposal` });
      return;
    }
    const participants = new Set(p.spec.participants.map((x) => x.id));
    for (const hash of ['state', 'decided'] as const) {
      for (const agent of Object.keys(r[hash]?.fields ?? {})) {
        if (!participants.has(agent)) ctx.addIssue({ code: 'custom', path: at('rounds', i, hash, 'fields', agent), message: `${agent} is not a participant of proposal ${r.round}` });
      }
    }
  });
}
