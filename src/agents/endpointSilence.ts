// A host's record of its HTTP agents' endpoints: each exchange its processors
// report is folded in (src/health/endpointHealth.ts), and the heartbeat asks
// what to publish, the silent endpoints as JSON or null when all answer. The
// value changes only when an endpoint falls silent or answers again, so a
// beat writes it only then.
import { ANSWERING, recordExchange, silenceOf, type EndpointRecord } from '../health/endpointHealth.ts';
import type { ExchangeReport } from './httpAgent.ts';

export class EndpointSilence {
  private readonly records = new Map<string, EndpointRecord>();
  /** What published() returns, made again only when some endpoint's silence began or ended. */
  private value: string | null = null;

  constructor(private readonly served: ReadonlyMap<string, readonly string[]>) {}

  observe(e: ExchangeReport): void {
    const was = this.records.get(e.endpoint) ?? ANSWERING;
    const next = recordExchange(was, e.outcome, e.sentAt, e.endedAt);
    this.records.set(e.endpoint, next);
    if (next.silentSince === was.silentSince) return;
    const silence = silenceOf(this.records, this.served);
    this.value = silence === null ? null : JSON.stringify(silence);
  }

  /** The host's field of `{swarm}:endpoint-silence`: null when every endpoint answers (the field is deleted). */
  published(): string | null {
    return this.value;
  }
}
