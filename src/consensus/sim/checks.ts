// The simulator's own safety and liveness checks, for every protocol. Pure
// functions of the nodes' decision logs: they say what is wrong, in sentences
// naming the nodes, and change nothing.
import type { NodeId, Value } from '../protocol.ts';
import type { SimNode } from './spec.ts';

type Decision = { slot: number; value: Value };
type Decided = Pick<SimNode<unknown>, 'id' | 'byzantine' | 'decided'>;

/**
 * Agreement: no two honest nodes decided different values for one slot.
 * Validity: every value an honest node decided was proposed by a client.
 * Byzantine nodes' logs are not checked: they may claim anything.
 */
export function safetyViolations(nodes: readonly Decided[], proposed: ReadonlySet<Value>): string[] {
  const out: string[] = [];
  const first = new Map<number, { node: NodeId; value: Value }>();
  for (const node of nodes) {
    if (node.byzantine) continue;
    for (const d of node.decided) {
      if (!proposed.has(d.value)) out.push(`validity: ${node.id} decided slot ${d.slot} = ${JSON.stringify(d.value)}, which no client proposed`);
      const seen = first.get(d.slot);
      if (seen === undefined) first.set(d.slot, { node: node.id, value: d.value });
      else if (seen.value !== d.value) {
        out.push(`agreement: ${node.id} decided slot ${d.slot} = ${JSON.stringify(d.value)} but ${seen.node} decided ${JSON.stringify(seen.value)}`);
      }
    }
  }
  return out;
}

/**
 * Stability: a node never changes a decided slot. `before` is what the node
 * had decided; `now` what its latest step decided. Deciding a slot again with
 * the same value (a restarted node relearning it) is fine.
 */
export function changedDecisions(node: NodeId, before: readonly Decision[], now: readonly Decision[]): string[] {
  const out: string[] = [];
  const known = new Map<number, Value>();
  for (const d of before) known.set(d.slot, d.value);
  for (const d of now) {
    if (!Number.isSafeInteger(d.slot) || d.slot < 0) out.push(`decision: ${node} decided an invalid slot ${String(d.slot)}`);
    const had = known.get(d.slot);
    if (had !== undefined && had !== d.value) out.push(`stability: ${node} changed slot ${d.slot} from ${JSON.stringify(had)} to ${JSON.stringify(d.value)}`);
    known.set(d.slot, d.value);
  }
  return out;
}

/** Merges new decisions into a log: a slot is recorded once, at its first decision. Pure. */
export function mergeDecisions(before: readonly Decision[], now: readonly Decision[]): readonly Decision[] {
  if (now.length === 0) return before;
  const slots = new Set(before.map((d) => d.slot));
  const added = now.filter((d) => {
    if (slots.has(d.slot)) return false;
    slots.add(d.slot);
    return true;
  });
  return added.length === 0 ? before : [...before, ...added];
}

/** Every slot some honest node has decided. Pure. */
export function honestSlots(nodes: readonly Decided[]): Set<number> {
  const slots = new Set<number>();
  for (const n of nodes) if (!n.byzantine) for (const d of n.decided) slots.add(d.slot);
  return slots;
}

/**
 * What liveness after the heal requires, as the slots every up honest node
 * must have decided: those some honest node had decided at the heal (a
 * restarted or cut-off node must catch up), plus the first slot any honest
 * node has decided by now (slot 0 for single-shot protocols; a log's first
 * entry otherwise, wherever its numbering starts). Pure.
 */
export function requiredSlots(atHeal: ReadonlySet<number>, now: ReadonlySet<number>): Set<number> {
  const required = new Set(atHeal);
  if (now.size > 0) required.add(Math.min(...now));
  return required;
}

/**
 * Why liveness does not hold yet: one sentence per up honest node that lacks
 * a required slot, or (for log protocols, which decide slots other than 0)
 * has not decided the value proposed after the heal; empty when it holds.
 */
export function livenessGaps(
  nodes: readonly Pick<SimNode<unknown>, 'id' | 'up' | 'byzantine' | 'decided'>[],
  required: ReadonlySet<number>,
  healValue: Value | undefined,
): string[] {
  if (required.size === 0) return ['no honest node has decided anything'];
  const out: string[] = [];
  const slots = [...required].sort((a, b) => a - b);
  for (const n of nodes) {
    if (!n.up || n.byzantine) continue;
    const have = new Set(n.decided.map((d) => d.slot));
    const missing = slots.filter((s) => !have.has(s));
    const lacks: string[] = [];
    if (missing.length > 0) lacks.push(`slot${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    if (healValue !== undefined && !n.decided.some((d) => d.value === healValue)) lacks.push(`the value ${JSON.stringify(healValue)} proposed after the heal`);
    if (lacks.length > 0) out.push(`${n.id} has not decided ${lacks.join(', nor ')}`);
  }
  return out;
}
