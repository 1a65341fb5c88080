// The run's readable history: one line per step or event, each stamped with
// the tick and the step number, kept in full or as the last `limit` lines
// (a ring buffer, so long runs cost constant memory).
export class Trace {
  private readonly buf: string[] = [];
  private start = 0;
  private count = 0;

  /** `limit`: how many of the latest lines to keep; Infinity keeps all. */
  constructor(readonly limit: number) {}

  add(tick: number, step: number, text: string): void {
    const line = `[t=${tick} #${step}] ${text}`;
    this.count++;
    if (this.buf.length < this.limit) {
      this.buf.push(line);
      return;
    }
    if (this.limit === 0) return;
    this.buf[this.start] = line;
    this.start = (this.start + 1) % this.limit;
  }

  /** Lines recorded in all, including those the ring buffer has let go. */
  get total(): number {
    return this.count;
  }

  lines(): string[] {
    return [...this.buf.slice(this.start), ...this.buf.slice(0, this.start)];
  }
}

const MAX_MESSAGE_CHARS = 160;

/** A message as one short line: its wire JSON, shortened if long. */
export function describeWire(wire: string | undefined): string {
  if (wire === undefined) return '<not serializable>';
  return wire.length <= MAX_MESSAGE_CHARS ? wire : `${wire.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}

export function quote(value: string): string {
  return JSON.stringify(value);
}
