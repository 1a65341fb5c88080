// Warm agents: registered, with a seat reserved in a node (so taking one needs
// no round trip), marked pooled so no router counts them until they work.
import type { Logger } from '../log.ts';
import type { AgentRecordIn, AgentSpecParsed } from './spec.ts';

/** A warm agent: its registered record and the node its seat is reserved in. */
export interface WarmAgent {
  record: AgentRecordIn;
  node: string;
}

export class WarmPool {
  /** How many of each kind to keep; none until the host starts with a pool. */
  private specs: AgentSpecParsed[] = [];
  /** Warm agents by type, not yet taking work. */
  private readonly byType = new Map<string, WarmAgent[]>();
  private refilling: Promise<void> | undefined;

  constructor(
    private readonly o: {
      /** New agent records (ids and consensus keys) for these specs. */
      records: (specs: AgentSpecParsed[]) => AgentRecordIn[];
      /** Registers records with the roster; answers each agent's seat. */
      register: (records: (AgentRecordIn & { pooled: true })[]) => Promise<Record<string, string>>;
      logger: Logger;
    },
  ) {}

  /** Keep these warm from now on, and fill the pool to them. */
  async start(specs: AgentSpecParsed[]): Promise<void> {
    this.specs = specs;
    await this.refill();
  }

  /** Tops every kind up to its count; nothing to do without specs. */
  async refill(): Promise<void> {
    const missing = this.specs
      .map((spec) => ({ ...spec, count: spec.count - (this.byType.get(spec.type)?.length ?? 0) }))
      .filter((spec) => spec.count > 0);
    if (!missing.length) return;
    const records = this.o.records(missing);
    const seats = await this.o.register(records.map((r) => ({ ...r, pooled: true as const })));
    for (const r of records) {
      const list = this.byType.get(r.type) ?? [];
      list.push({ record: r, node: seats[r.id]! });
      this.byType.set(r.type, list);
    }
  }

  /** Refills on the next turn, one refill at a time: key pairs and records are background work, not a caller's wait. */
  refillSoon(): void {
    this.refilling ??= new Promise<void>((r) => setImmediate(r))
      .then(() => this.refill())
      .catch((err: Error) => this.o.logger.warn({ err: err.message }, 'pool refill failed; will try on the next acquire'))
      .finally(() => {
        this.refilling = undefined;
      });
  }

  /** Resolves once a background refill under way is over (never rejects). */
  async settled(): Promise<void> {
    await this.refilling;
  }

  /** A warm agent of this type, out of the pool; undefined when none is left. */
  take(type: string): WarmAgent | undefined {
    return this.byType.get(type)?.pop();
  }

  /** How many warm agents of each type are ready now. */
  levels(): Record<string, number> {
    return Object.fromEntries([...this.byType.entries()].map(([t, l]) => [t, l.length]));
  }

  /** Every warm agent's id. */
  agentIds(): string[] {
    return [...this.byType.values()].flat().map((w) => w.record.id);
  }

  /** Forget every warm agent (their records are gone, or about to be). */
  clear(): void {
    this.byType.clear();
  }
}
