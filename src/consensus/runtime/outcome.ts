// The outcome of a round from the decisions its agents recorded: pure, so the
// driver, GET /api/proposals/:id and tests read it the same way.
import { decisionSchema, type Decision, type ProposalResult, type RoundSpec } from './proposal.ts';
import { PROTOCOLS } from './protocols.ts';
import type { DecisionCheck } from './roundProof.ts';

/** Parses the decisions hash; a field that does not parse is ignored (and reported by the count). */
export function parseDecisions(raw: Record<string, string>): Map<string, Decision> {
  const out = new Map<string, Decision>();
  for (const [agent, text] of Object.entries(raw)) {
    try {
      const d = decisionSchema.safeParse(JSON.parse(text));
      if (d.success) out.set(agent, d.data);
    } catch {
      // not JSON: not a decision
    }
  }
  return out;
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Final once `decisionsNeeded` participants decided one value; its latency is
 * when the last of those needed decided. Decisions by agents that are not
 * participants are not counted; with `check` (a trust anchor), neither are
 * decisions their hosts did not sign for this spec, and they are counted as
 * rejected (`unsigned-decision`, or the spec's own problem).
 */
export function outcomeOf(spec: RoundSpec, decisions: ReadonlyMap<string, Decision>, rejected: Record<string, string>, check?: DecisionCheck): ProposalResult {
  const members = new Set(spec.participants.map((p) => p.id));
  const byValue = new Map<string, Decision[]>();
  let unsigned = 0;
  for (const [agent, d] of decisions) {
    if (!members.has(agent)) continue;
    if (check && !check.counts(agent, d)) {
      unsigned++;
      continue;
    }
    const list = byValue.get(d.value) ?? [];
    list.push(d);
    byValue.set(d.value, list);
  }
  const needed = PROTOCOLS[spec.protocol].decisionsNeeded(spec.participants.length);
  const counts: Record<string, number> = Object.fromEntries(Object.entries(rejected).map(([k, v]) => [k, Number(v)]));
  if (check?.problem) counts[check.problem] = Math.max(1, counts[check.problem] ?? 0);
  else if (unsigned) counts['unsigned-decision'] = unsigned;
  let best: [string, Decision[]] | undefined;
  for (const entry of byValue) if (!best || entry[1].length > best[1].length) best = entry;
  const base = { id: spec.id, protocol: spec.protocol, participants: spec.participants.length, rejected: counts, ...(check ? { certified: !check.problem } : {}) };
  if (!best || best[1].length < needed) return { ...base, decided: false, value: null, votes: best?.[1].length ?? 0, rounds: 0, latencyMs: 0 };
  const times = best[1].map((d) => d.at).sort((a, b) => a - b);
  return {
    ...base,
    decided: true,
    value: parseValue(best[0]),
    votes: best[1].length,
    rounds: Math.max(...best[1].map((d) => d.rounds)),
    latencyMs: Math.max(0, times[needed - 1]! - spec.createdAt),
  };
}

/** Values decided by some participant: more than one is a safety violation the runtime reports loudly. */
export function decidedValues(decisions: ReadonlyMap<string, Decision>): string[] {
  return [...new Set([...decisions.values()].map((d) => d.value))];
}
