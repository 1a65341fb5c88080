// Pure, both ways: what the read script saw of the consensus queue and its round
// hashes → the checkpoint's consensus section; and that section → the writes a
// restore makes (restoreConsensus in restore.ts carries them out).
import { Job } from 'bullmq';
import { CONSENSUS_QUEUE } from '../../queues/keys.ts';
import { consensusKeys } from '../consensus/runtime/keys.ts';
import { decisionSchema, roundSpecSchema, type RoundSpec } from '../consensus/runtime/proposal.ts';
import { REPLICATED_JOB } from '../consensus/runtime/judgeReplicated.ts';
import { proposalResultSchema, type CarriedProposal, type CarriedRound, type ConsensusSection, type FinishedProposal } from './consensusFormat.ts';
import { DROPPED_OPTIONS, type PlannedJob, type PlannedQueue } from './plan.ts';
import type { RawConsensus } from '../../queues/readSwarm.ts';

/** The job name of a proposal in the consensus queue (Consensus.add); replicated tasks' parents are REPLICATED_JOB. */
export const PROPOSAL_JOB = 'proposal';

export type { RawConsensus, RawRoundHash } from '../../queues/readSwarm.ts';

function int(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? Math.max(0, Math.trunc(n)) : undefined;
}

const ttlOf = (pttl: number) => (pttl > 0 ? pttl : null);

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isDecision(text: string): boolean {
  try {
    return decisionSchema.safeParse(JSON.parse(text)).success;
  } catch {
    return false;
  }
}

/** The consensus section of a checkpoint, and what was left out of it (warnings). */
export function consensusToSection(raw: RawConsensus, includeFinished: boolean, now: number): { section: ConsensusSection; warnings: string[] } {
  const warnings: string[] = [];
  const q = raw.queue;
  const proposals: CarriedProposal[] = [];
  const specs = new Map<string, RoundSpec>();
  const replicated = new Set<string>(raw.waitingChildren);

  const read = (id: string, state: CarriedProposal['state']): { h: Record<string, string>; spec: RoundSpec } | undefined => {
    const h = q.jobs.get(id);
    if (!h || Object.keys(h).length === 0) {
      warnings.push(`consensus: job ${id} is ${state} but has no job hash; left out`);
      return undefined;
    }
    if (h.name === REPLICATED_JOB) {
      replicated.add(id);
      return undefined;
    }
    if (h.name !== PROPOSAL_JOB) {
      warnings.push(`consensus: job ${id} is named ${JSON.stringify(h.name)}, not a proposal; left out`);
      return undefined;
    }
    let spec;
    try {
      spec = roundSpecSchema.safeParse(JSON.parse(h.data ?? 'null'));
    } catch {
      warnings.push(`consensus: proposal ${id} has data that is not JSON; left out`);
      return undefined;
    }
    if (!spec.success || spec.data.id !== id) {
      warnings.push(`consensus: proposal ${id} has no valid round spec${spec.success ? ` (it names round ${spec.data.id})` : ''}; left out`);
      return undefined;
    }
    specs.set(id, spec.data);
    return { h, spec: spec.data };
  };

  const unfinished = (id: string, state: Exclude<CarriedProposal['state'], 'completed' | 'failed'>) => {
    const r = read(id, state);
    if (!r) return;
    let opts: Record<string, unknown> = {};
    try {
      opts = Job.optsFromJSON(r.h.opts) as Record<string, unknown>;
    } catch {
      warnings.push(`consensus: proposal ${id} has options that are not JSON; carried without them`);
    }
    proposals.push({ id, state, spec: r.spec, opts, timestamp: int(r.h.timestamp) ?? now, attemptsMade: int(r.h.atm ?? r.h.attemptsMade) ?? 0 });
  };
  // In the order a driver would take them (lists are taken from the tail).
  for (const id of [...q.active].reverse()) unfinished(id, 'active');
  for (const id of [...q.wait].reverse()) unfinished(id, 'waiting');
  for (const id of [...q.pausedList].reverse()) unfinished(id, 'paused');
  for (const id of q.prioritized) unfinished(id, 'prioritized');
  for (const [id] of q.delayed) unfinished(id, 'delayed');
  if (includeFinished) {
    for (const [state, list] of [['completed', q.completed], ['failed', q.failed]] as const) {
      for (const [id, score] of list) {
        const r = read(id, state);
        if (!r) continue;
        const { data: _d, returnvalue, ...hash } = r.h;
        let result: unknown;
        try {
          result = returnvalue === undefined ? undefined : JSON.parse(returnvalue);
        } catch {
          result = undefined;
        }
        const parsed = proposalResultSchema.safeParse(result);
        if (state === 'completed' && !parsed.success) {
          warnings.push(`consensus: completed proposal ${id} has no readable outcome; left out`);
          specs.delete(id);
          continue;
        }
        proposals.push({ id, state, spec: r.spec, ...(state === 'completed' && parsed.success ? { result: parsed.data } : {}), finishedOn: int(r.h.finishedOn) ?? int(score) ?? now, hash });
      }
    }
  }
  for (const id of [...replicated].sort()) warnings.push(`consensus: replicated task ${id} is not carried (nor its replicas): submit it again after the restore`);

  const rounds: CarriedRound[] = [];
  for (const r of raw.rounds) {
    const spec = specs.get(r.round);
    if (!spec) continue; // its proposal is not carried
    const participants = new Set(spec.participants.map((p) => p.id));
    const keep = (hash: 'state' | 'decided', valid: (text: string) => boolean) => {
      const fields: Record<string, string> = {};
      for (const [agent, text] of Object.entries(r[hash].fields)) {
        if (participants.has(agent) && valid(text)) fields[agent] = text;
        else warnings.push(`consensus: round ${r.round}: ${hash} of ${agent} is ${participants.has(agent) ? 'unreadable' : 'not from a participant'}; left out`);
      }
      return r[hash].pttl === -2 || !Object.keys(fields).length ? undefined : { fields, ttlMs: ttlOf(r[hash].pttl) };
    };
    const state = keep('state', isJson);
    const decided = keep('decided', isDecision);
    const counts: Record<string, number> = {};
    for (const [why, n] of Object.entries(r.rejected.fields)) {
      const v = int(n);
      if (why && v !== undefined) counts[why] = v;
    }
    const rejected = r.rejected.pttl === -2 || !Object.keys(counts).length ? undefined : { fields: counts, ttlMs: ttlOf(r.rejected.pttl) };
    if (state || decided || rejected) rounds.push({ round: r.round, ...(state ? { state } : {}), ...(decided ? { decided } : {}), ...(rejected ? { rejected } : {}) });
  }
  return { section: { paused: q.paused, proposals, rounds }, warnings };
}

/** A round's hashes to write back: key, fields, remaining time (null: none). */
export interface PlannedRound {
  round: string;
  /** The proposal's job hash: when the target has it already (--force), the round there is left as it is. */
  jobKey: string;
  hashes: { key: string; fields: Record<string, string>; ttlMs: number | null }[];
}

export interface ConsensusPlan {
  /** Proposals, as a queue restore.ts fills like any other: unfinished ones added as waiting, finished ones written as they were. */
  queue: PlannedQueue;
  rounds: PlannedRound[];
}

const isFinished = (p: CarriedProposal): p is FinishedProposal => p.state === 'completed' || p.state === 'failed';

export function planConsensus(c: ConsensusSection, prefix: string): ConsensusPlan {
  const k = consensusKeys(prefix);
  const queue: PlannedQueue = { name: CONSENSUS_QUEUE, paused: c.paused, jobs: [], finished: [], idFloor: 0 };
  for (const p of c.proposals) {
    if (isFinished(p)) {
      const hash = { ...p.hash, data: JSON.stringify(p.spec), ...(p.result ? { returnvalue: JSON.stringify(p.result) } : {}) };
      queue.finished.push({ queue: CONSENSUS_QUEUE, id: p.id, state: p.state, finishedOn: p.finishedOn, hash });
      continue;
    }
    const opts: Record<string, unknown> = { ...p.opts };
    for (const key of DROPPED_OPTIONS) delete opts[key];
    // Waiting whatever it was: an active round's driver is not in the new Redis, and a new one
    // resumes it from the round's hashes. Its cut-short attempt is not counted.
    const job: PlannedJob = {
      queue: CONSENSUS_QUEUE,
      id: p.id,
      renamed: false,
      name: PROPOSAL_JOB,
      data: p.spec,
      opts: { ...opts, jobId: p.id, timestamp: p.timestamp },
      fields: p.attemptsMade > 0 ? { atm: String(p.attemptsMade) } : {},
      from: p.state,
      landsAs: 'waiting',
    };
    queue.jobs.push(job);
  }
  const rounds = c.rounds.map((r): PlannedRound => {
    const hashes: PlannedRound['hashes'] = [];
    if (r.state) hashes.push({ key: k.state(r.round), fields: r.state.fields, ttlMs: r.state.ttlMs });
    if (r.decided) hashes.push({ key: k.decided(r.round), fields: r.decided.fields, ttlMs: r.decided.ttlMs });
    if (r.rejected) hashes.push({ key: k.rejected(r.round), fields: Object.fromEntries(Object.entries(r.rejected.fields).map(([w, n]) => [w, String(n)])), ttlMs: r.rejected.ttlMs });
    return { round: r.round, jobKey: k.job(r.round), hashes };
  });
  return { queue, rounds };
}
